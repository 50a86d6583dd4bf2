//go:build ultracuda

// Package cudatest builds the CPU emulator of the CUDA driver and cuBLAS
// (cuda/kernels/emu/fake_driver.cc, with the kernels of kernels.cu compiled
// for the host) and returns the cuda.Options that open it, so that tests of
// the `cuda` build tag run the real binding and the real kernel code on
// machines without a GPU. It needs g++ (which cgo needs anyway).
package cudatest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/ultra-rl/ultra/cuda"
)

var (
	once     sync.Once
	libPath  string
	buildErr error
)

// KernelsDir is the directory of the kernel sources (cuda/kernels).
func KernelsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "kernels")
}

// sources are the files the emulator is built from, relative to
// KernelsDir.
var sources = []string{"emu/emu.h", "emu/fake_driver.cc", "kernels.cu", "ops.cuh", "list.h", "../ucuda.h"}

// build compiles the emulator library once per test binary, into a cache
// directory keyed by the SHA-256 of its sources and the compiler, so that
// later test runs reuse it and nothing piles up in /tmp.
func build() (string, error) {
	once.Do(func() {
		cxx := os.Getenv("CXX")
		if cxx == "" {
			cxx = "g++"
		}
		kd := KernelsDir()
		h := sha256.New()
		fmt.Fprintln(h, cxx)
		for _, f := range sources {
			b, err := os.ReadFile(filepath.Join(kd, f))
			if err != nil {
				buildErr = fmt.Errorf("cudatest: %w", err)
				return
			}
			fmt.Fprintf(h, "%s %d\n", f, len(b))
			h.Write(b)
		}
		dir := os.Getenv("ULTRA_CUDATEST_CACHE")
		if dir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				base = os.TempDir()
			}
			dir = filepath.Join(base, "ultra", "cudatest")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = fmt.Errorf("cudatest: %w", err)
			return
		}
		libPath = filepath.Join(dir, fmt.Sprintf("libultra_fakecuda-%x.so", h.Sum(nil)[:8]))
		if _, err := os.Stat(libPath); err == nil {
			return
		}
		tmp, err := os.CreateTemp(dir, "build-*.so")
		if err != nil {
			buildErr = fmt.Errorf("cudatest: %w", err)
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		cmd := exec.Command(cxx, "-std=c++17", "-O1", "-g", "-shared", "-fPIC", "-Wall", "-Werror",
			"-include", filepath.Join(kd, "emu", "emu.h"), "-o", tmp.Name(), filepath.Join(kd, "emu", "fake_driver.cc"))
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("cudatest: building the CUDA emulator failed: %s: %v\n%s", cmd, err, out)
			return
		}
		// Rename is atomic: concurrent test binaries never load a half-written library.
		if err := os.Rename(tmp.Name(), libPath); err != nil {
			buildErr = fmt.Errorf("cudatest: %w", err)
		}
	})
	return libPath, buildErr
}

// Emulator returns options that open the CPU emulator as the driver and as
// cuBLAS. It fails the test if the emulator cannot be built.
func Emulator(tb testing.TB) cuda.Options {
	tb.Helper()
	p, err := build()
	if err != nil {
		tb.Fatal(err)
	}
	return cuda.Options{Driver: p, Cublas: p}
}

// Open opens the emulator, closing it when the test ends.
func Open(tb testing.TB) *cuda.Device {
	tb.Helper()
	d, err := cuda.Open(Emulator(tb))
	if err != nil {
		tb.Fatalf("opening the CUDA emulator: %v", err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Errorf("closing the CUDA emulator: %v", err)
		}
	})
	return d
}

// GPU opens the real device 0 for tests that need one, or skips the test
// saying why: ULTRA_TEST_GPU unset (set it to 1 to run GPU tests), or no
// usable device.
func GPU(tb testing.TB) *cuda.Device {
	tb.Helper()
	if os.Getenv("ULTRA_TEST_GPU") == "" {
		tb.Skip("GPU test: set ULTRA_TEST_GPU=1 on a machine with an NVIDIA GPU (make gpu-check does)")
	}
	d, err := cuda.Open(cuda.Options{})
	if err != nil {
		tb.Fatalf("ULTRA_TEST_GPU is set but no GPU could be opened: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}
