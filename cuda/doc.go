// Package cuda will hold the GPU backend of engine/nn (CUDA driver API,
// cuBLAS and the project's own kernels), built only with the build tag
// `cuda`. It has no code yet: until it does, `--device cuda` is not offered.
package cuda
