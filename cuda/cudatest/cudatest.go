//go:build ultracuda

// Package cudatest builds the CPU emulator of the CUDA driver and cuBLAS
// (cuda/kernels/emu/fake_driver.cc, with the kernels of kernels.cu compiled
// for the host) and returns the cuda.Options that open it, so that tests of
// the `cuda` build tag run the real binding and the real kernel code on
// machines without a GPU. It needs g++ (which cgo needs anyway).
package cudatest

/*
#cgo CFLAGS: -I${SRCDIR}/../kernels/emu
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "counters.h"

typedef void (*ucu_get_counters)(ultra_fake_counters*);

// ucu_counters reads the counters of the emulator library at path (loaded
// already: dlopen returns the same copy); it returns 0 on success, 1 when
// the library or its counters cannot be found.
static int ucu_counters(const char* path, ultra_fake_counters* out) {
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return 1;
	ucu_get_counters get = (ucu_get_counters)dlsym(h, "ultra_fake_get_counters");
	if (get) get(out);
	dlclose(h);
	return get ? 0 : 1;
}
*/
import "C"

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"

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
var sources = []string{"emu/emu.h", "emu/fake_driver.cc", "emu/counters.h", "kernels.cu", "ops.cuh", "list.h", "../ucuda.h"}

// build compiles the emulator library once per test binary, into a cache
// directory keyed by the SHA-256 of its sources, the compiler and the extra
// flags in $ULTRA_CUDATEST_CXXFLAGS (make cuda-asan sets
// -fsanitize=address there), so that later test runs reuse it and nothing
// piles up in /tmp.
func build() (string, error) {
	once.Do(func() {
		cxx := os.Getenv("CXX")
		if cxx == "" {
			cxx = "g++"
		}
		kd := KernelsDir()
		flags := strings.Fields(os.Getenv("ULTRA_CUDATEST_CXXFLAGS"))
		h := sha256.New()
		fmt.Fprintln(h, cxx, flags)
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
		args := append([]string{"-std=c++17", "-O1", "-g", "-shared", "-fPIC", "-Wall", "-Werror"}, flags...)
		args = append(args, "-include", filepath.Join(kd, "emu", "emu.h"), "-o", tmp.Name(), filepath.Join(kd, "emu", "fake_driver.cc"))
		cmd := exec.Command(cxx, args...)
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
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if _, err := exec.LookPath(cxx); err != nil && OnGPU() {
		tb.Skipf("the CPU emulator needs a C++ compiler (%s), which this GPU machine lacks", cxx)
	}
	p, err := build()
	if err != nil {
		tb.Fatal(err)
	}
	return cuda.Options{Driver: p, Cublas: p}
}

// OnGPU reports whether the tests run on a real GPU: ULTRA_TEST_GPU is set
// (make gpu-check sets it on a machine with an NVIDIA GPU).
func OnGPU() bool { return os.Getenv("ULTRA_TEST_GPU") != "" }

// Target returns the options of the device the tests run on: GPU 0 when
// OnGPU, else the CPU emulator.
func Target(tb testing.TB) cuda.Options {
	tb.Helper()
	if OnGPU() {
		return cuda.Options{}
	}
	return Emulator(tb)
}

// Open opens the Target device, closing it when the test ends.
func Open(tb testing.TB) *cuda.Device {
	tb.Helper()
	return open(tb, Target(tb))
}

// OpenEmulator opens the CPU emulator even on a GPU machine, for tests of
// what only the emulator can do (inject errors, check wild pointers).
func OpenEmulator(tb testing.TB) *cuda.Device {
	tb.Helper()
	return open(tb, Emulator(tb))
}

func open(tb testing.TB, o cuda.Options) *cuda.Device {
	tb.Helper()
	d, err := cuda.Open(o)
	if err != nil {
		if OnGPU() {
			tb.Fatalf("ULTRA_TEST_GPU is set but the device could not be opened: %v", err)
		}
		tb.Fatalf("opening the CUDA emulator: %v", err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Errorf("closing the device: %v", err)
		}
	})
	return d
}

// Counters are the emulator's counts of what the host asked of the device
// since the library was loaded (kernels/emu/counters.h); tests compare two
// readings to pin the host's waits and copies.
type Counters struct {
	Syncs           int64 // cuStreamSynchronize: the host waited for the device
	HtoD, HtoDBytes int64 // host-to-device copies and their bytes
	HtoDPageable    int64 // of which from pageable host memory, not page-locked (cuda.HostBuffer)
	DtoH, DtoHBytes int64 // device-to-host copies and their bytes
	DtoHPageable    int64 // of which into pageable host memory, which the driver makes wait for the stream
	DtoD, DtoDBytes int64 // device-to-device copies and their bytes
	Launches        int64 // kernel launches
	BlasCalls       int64 // cuBLAS calls
}

// Sub returns c minus an earlier reading.
func (c Counters) Sub(earlier Counters) Counters {
	return Counters{Syncs: c.Syncs - earlier.Syncs, HtoD: c.HtoD - earlier.HtoD, HtoDBytes: c.HtoDBytes - earlier.HtoDBytes,
		HtoDPageable: c.HtoDPageable - earlier.HtoDPageable, DtoH: c.DtoH - earlier.DtoH, DtoHBytes: c.DtoHBytes - earlier.DtoHBytes,
		DtoHPageable: c.DtoHPageable - earlier.DtoHPageable, DtoD: c.DtoD - earlier.DtoD,
		DtoDBytes: c.DtoDBytes - earlier.DtoDBytes, Launches: c.Launches - earlier.Launches, BlasCalls: c.BlasCalls - earlier.BlasCalls}
}

// ReadCounters returns the emulator's counters: only devices opened on the
// emulator (OpenEmulator, or Open off a GPU) are counted. It fails the test
// when the emulator cannot be built.
func ReadCounters(tb testing.TB) Counters {
	tb.Helper()
	p := Emulator(tb).Driver
	cp := C.CString(p)
	defer C.free(unsafe.Pointer(cp))
	var c C.ultra_fake_counters
	if C.ucu_counters(cp, &c) != 0 {
		tb.Fatalf("cudatest: the emulator %s has no counters", p)
	}
	return Counters{Syncs: int64(c.syncs), HtoD: int64(c.htod), HtoDBytes: int64(c.htod_bytes),
		HtoDPageable: int64(c.htod_pageable), DtoH: int64(c.dtoh), DtoHBytes: int64(c.dtoh_bytes),
		DtoHPageable: int64(c.dtoh_pageable), DtoD: int64(c.dtod), DtoDBytes: int64(c.dtod_bytes), Launches: int64(c.launches),
		BlasCalls: int64(c.blas_calls)}
}
