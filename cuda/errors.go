//go:build ultracuda

package cuda

import (
	"errors"
	"fmt"
)

// Error is a CUDA driver call that failed: the call, its CUresult and the
// driver's name and description of it. A sticky error (IsSticky: a kernel
// that faulted on the device) says so and what to do in its message.
type Error struct {
	Call string // e.g. "cuInit", "cuLaunchKernel(ultra_adam)"
	Code int    // the CUresult
	Name string // e.g. "CUDA_ERROR_NO_DEVICE"
	Desc string // the driver's description, may be empty
	// Launch is the kernel (or "cublasSgemm") that failed, when known: with
	// ULTRA_CUDA_SYNC=1 the host waits after each launch, and Call is that
	// wait. Otherwise a fault surfaces at a later call, and Launch is empty.
	Launch string
}

func (e *Error) Error() string {
	var s string
	if e.Launch != "" {
		s = fmt.Sprintf("cuda: %s failed (%s=1: %s after it): %s", e.Launch, syncEnv, e.Call, e.Name)
	} else {
		s = fmt.Sprintf("cuda: %s: %s", e.Call, e.Name)
	}
	if e.Desc != "" {
		s += " (" + e.Desc + ")"
	}
	if !e.sticky() {
		return s
	}
	if e.Launch == "" {
		s += "; a kernel or cuBLAS call queued earlier failed (set " + syncEnv + "=1 to wait after each launch and name it)"
	}
	// Why the whole process: see "Contexts" in the package doc.
	return s + "; the error is sticky: the GPU's primary context, shared by every Device of this process on this GPU " +
		"(every --jobs run on it), fails all later work: restart the process (runs resume from their last checkpoint)"
}

// sticky reports whether the CUresult leaves the context unusable: the
// driver returns it to every later call until the process exits (cuda.h:
// "the process must be terminated and relaunched").
func (e *Error) sticky() bool {
	switch e.Code {
	case codeIllegalAddress, codeLaunchTimeout, codeHardwareStackError, codeIllegalInstruction,
		codeMisalignedAddress, codeInvalidAddressSpace, codeInvalidPC, codeLaunchFailed:
		return true
	}
	return false
}

// IsSticky reports whether err is a sticky device fault (an illegal
// address, a kernel that failed or timed out, …): every later call of the
// process on that GPU fails with it.
func IsSticky(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.sticky()
}

// CUresult values the package tests for (cuda.h; stable across versions).
const (
	codeOutOfMemory        = 2
	codeNoDevice           = 100
	codeInvalidDevice      = 101
	codeNoBinaryForGPU     = 209
	codeUnsupportedPTX     = 222
	codeInsufficientDriver = 35
	// Sticky device faults.
	codeIllegalAddress      = 700
	codeLaunchTimeout       = 702
	codeHardwareStackError  = 714
	codeIllegalInstruction  = 715
	codeMisalignedAddress   = 716
	codeInvalidAddressSpace = 717
	codeInvalidPC           = 718
	codeLaunchFailed        = 719
)

// IsNoDevice reports whether err says that there is no usable CUDA device:
// the driver library is missing, or cuInit found no device.
func IsNoDevice(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == codeNoDevice
	}
	var l *LoadError
	return errors.As(err, &l) && l.What == driverWhat
}

// IsOutOfMemory reports whether err is a failed device allocation.
func IsOutOfMemory(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == codeOutOfMemory
}

// CublasError is a cuBLAS call that failed.
type CublasError struct {
	Call   string
	Status int
}

// cublasStatusNames names cublasStatus_t values (cublas_api.h).
var cublasStatusNames = map[int]string{
	0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func (e *CublasError) Error() string {
	name, ok := cublasStatusNames[e.Status]
	if !ok {
		name = fmt.Sprintf("cublasStatus %d", e.Status)
	}
	return fmt.Sprintf("cuda: %s: %s", e.Call, name)
}

// driverWhat is LoadError.What for the driver library.
const driverWhat = "the NVIDIA driver library"

// LoadError is a library that could not be loaded or bound.
type LoadError struct {
	Lib  string // the path or soname given to dlopen
	What string // "the NVIDIA driver library" or "cuBLAS"
	Err  error  // dlopen's message, or the missing symbol
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("cuda: cannot load %s %s: %v", e.What, e.Lib, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }
