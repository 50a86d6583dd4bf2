package run

import (
	"runtime"
	"syscall"
)

// lowerPriority runs the calling goroutine, from now until it exits, on an
// OS thread of its own at the lowest scheduling priority (nice 19), so
// that a clip drawn beside training takes the CPU training leaves idle.
// Threads the goroutine's C code starts (llvmpipe's rasterisers) inherit
// it. The goroutine must not unlock the thread: Go ends a thread whose
// goroutine exits locked, so the lowered priority dies with it.
func lowerPriority() {
	runtime.LockOSThread()
	syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19) // best effort
}
