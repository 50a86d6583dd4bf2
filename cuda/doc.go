// Package cuda is ultra's GPU edge: the CUDA driver API and cuBLAS, bound at
// run time, the project's own kernels, and a pooled allocator, behind small
// Go types (Device, Buffer, Ptr). engine/nn builds its GPU Backend on it
// (nn.NewCUDA). Everything but this comment is behind the build tag
// ultracuda:
//
//	go build -tags ultracuda ./cmd/ultra     (make build-cuda)
//
// # Why the tag is not "cuda"
//
// gorgonia.org/gorgonia, the project's reference backend, has files behind
// a build tag named cuda (v0.9.18 cuda.go imports gorgonia.org/cu and
// gorgonia.org/cu/dnn): building ultra with -tags cuda turns gorgonia into
// its own CUDA build, which needs cuDNN's headers to compile and then exits
// at start-up on machines without a GPU (below). The namespaced tag keeps
// gorgonia on the CPU.
//
// # Why not gorgonia.org/cu
//
// At v0.9.6, gorgonia.org/cu's init() calls cuInit and, when it fails,
// prints a message and calls os.Exit(1): any program importing it exits
// before main on a machine without a GPU (checked here: a program that only
// imports it prints "Error in initialization … NoDevice" and exits with
// status 1), so `go test` of a GPU build could not run on CI machines. It
// also links libcuda at build time (#cgo LDFLAGS: -lcuda, #include
// <cuda.h>), so building needs the CUDA toolkit; and it calls the
// three-argument cuCtxCreate(&ctx, flags, dev), which CUDA 13's cuda.h
// replaced: there `#define cuCtxCreate cuCtxCreate_v4`, a four-argument
// function taking a CUctxCreateParams (compiler output quoting the 13.0
// header in NVIDIA/cuda-samples#382, axboe/fio#1988, wilicc/gpu-burn#134),
// so it does not compile against CUDA 13 headers either.
//
// # How it binds
//
// Open dlopens libcuda.so.1 (or $ULTRA_CUDA_DRIVER) and the newest of
// libcublas.so.13, .12 and .11 that loads and creates a handle (or
// $ULTRA_CUDA_CUBLAS), and binds only the entry points ultra calls, by
// their ABI names, with the project's own prototypes (ucuda.h). Building
// needs no CUDA package, nothing runs at import, and one binary runs on
// CUDA 11, 12 and 13 drivers. It uses the device's primary context (no
// cuCtxCreate at all), one non-blocking stream for every copy, kernel and
// cuBLAS call, and makes the context current on the calling thread at each
// entry, since goroutines move between threads. Every failure is an error
// naming the call and the status: *Error (CUresult, e.g.
// "cuda: cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is
// detected)"), *CublasError, or *LoadError; IsNoDevice tells a missing GPU
// or driver apart.
//
// # Contexts and faults
//
// Every Device on one GPU uses its primary context, on purpose: the GPU
// time-slices between contexts (kernels of two contexts never run at
// once without MPS), each context reserves its own device memory, and
// cuCtxCreate's ABI changed in CUDA 13 (above), which the one-binary
// binding would have to track per driver. The price: a sticky fault
// (CUDA_ERROR_ILLEGAL_ADDRESS and the like, IsSticky) fails every later
// call of every Device of the process on that GPU, including every --jobs
// run; the error's message says so and says to restart the process (runs
// resume from their checkpoints). Kernels run asynchronously, so a fault
// surfaces at the next call that waits; with ULTRA_CUDA_SYNC=1 (read by
// Open, reported by Info.Sync) the host waits after every kernel and
// matrix product, and the error names the kernel (Error.Launch).
//
// # Kernels
//
// kernels/kernels.cu holds thin __global__ wrappers over the
// __host__ __device__ per-element bodies of kernels/ops.cuh: bias +
// activation and its derivative, column sums in deterministic passes, the
// minibatch gather, advantage normalisation, the PPO loss with value
// clipping (Gaussian and categorical log-probability and entropy) and its
// gradient, global-norm clipping with Adam, im2col/col2im and a batched
// transpose for the Nature-CNN. Matrix products are cuBLAS sgemm. `make
// cuda-kernels` compiles the kernels with nvcc into kernels/ultra.fatbin
// (SASS for sm_80 and sm_90, compute_90 PTX for newer GPUs), which the
// binary embeds; ultra.fatbin.sha256 records the sources it was built
// from, and a test fails when they drift.
//
// # Testing without a GPU
//
// Package cudatest compiles kernels/emu/fake_driver.cc with g++ into a
// stand-in for libcuda and libcublas that runs the same kernels.cu on the
// CPU (emu/emu.h runs the block and thread indices one after another,
// shuffled by default; no kernel shares memory between threads, so that is
// exact in any order), and the tests load it as the driver: the binding,
// the argument packing, the allocator and every kernel run for real. The
// emulator queues work on the stream until the host waits, as a GPU does,
// checks every kernel pointer argument's span against the allocation
// table, and counts waits and copies (pageable or page-locked). With
// ULTRA_TEST_GPU=1 (make gpu-check) the same tests run on the GPU; make
// cuda-asan runs them on the emulator built with AddressSanitizer.
//
// # Transfers
//
// Upload and Download copy Go memory: the driver stages it, and Download
// waits. The copies of every step go through HostBuffer, page-locked
// memory owned by C (cuMemHostAlloc), allocated once and reused:
// UploadAsync and DownloadAsync queue DMA transfers the host does not wait
// for, and SyncPinned waits before a staging buffer is written again or
// read.
package cuda
