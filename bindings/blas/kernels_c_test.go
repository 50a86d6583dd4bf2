//go:build !noblas

package blas

import "testing"

// TestKernelLevels runs TestKernelsMatchGo's comparison on each
// instruction set this CPU has: the scalar C loops, AVX2, AVX-512.
func TestKernelLevels(t *testing.T) {
	best := setKernelLevel(len(kernelLevels))
	defer setKernelLevel(best)
	for l := 0; l <= best; l++ {
		t.Run(kernelLevels[l], func(t *testing.T) {
			if got := setKernelLevel(l); got != l {
				t.Fatalf("level %d, want %d", got, l)
			}
			checkKernels(t)
		})
	}
}
