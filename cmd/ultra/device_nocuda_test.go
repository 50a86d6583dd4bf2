//go:build !ultracuda

package main

// noCUDAWant is what --device cuda answers in a build without the CUDA
// backend.
const noCUDAWant = "built without the CUDA backend"
