//go:build ultracuda

package cuda

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestKernelNamesMatchList checks that the Go launchers name exactly the
// kernels of kernels/list.h, in its order (the emulator's launch table is
// built from the list, so a kernel missing from either side fails here).
func TestKernelNamesMatchList(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("kernels", "list.h"))
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, m := range regexp.MustCompile(`X\((\w+)\)`).FindAllStringSubmatch(string(b), -1) {
		list = append(list, m[1])
	}
	if len(list) != numKernels {
		t.Fatalf("list.h names %d kernels, cuda/kernels.go %d", len(list), numKernels)
	}
	for i, name := range list {
		if kernelNames[i] != name {
			t.Errorf("kernel %d: list.h %s, kernels.go %s", i, name, kernelNames[i])
		}
	}
	src, err := os.ReadFile(filepath.Join("kernels", "kernels.cu"))
	if err != nil {
		t.Fatal(err)
	}
	defined := regexp.MustCompile(`extern "C" __global__ void (\w+)\(`).FindAllStringSubmatch(string(src), -1)
	if len(defined) != numKernels {
		t.Errorf("kernels.cu defines %d kernels, list.h names %d", len(defined), numKernels)
	}
	for i, m := range defined {
		if i < len(list) && m[1] != list[i] {
			t.Errorf("kernels.cu kernel %d is %s, list.h says %s", i, m[1], list[i])
		}
	}
}

func TestSizeClass(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{1, 256}, {256, 256}, {257, 320}, {320, 320}, {321, 384}, {512, 512}, {513, 640},
		{1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<18}, {100 << 20, 112 << 20},
	} {
		if got := sizeClass(tc.n); got != tc.want || got < tc.n || float64(got) > 1.25*float64(tc.n)+256 {
			t.Errorf("sizeClass(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestArgBufAlignment(t *testing.T) {
	var a argBuf
	a.reset().i32(1).ptr(2).f32(3).f64(4).i32(5).i64(6)
	// int at 0, pointer at 8, float at 16, double at 24, int at 32, long long at 40.
	if a.n != 48 {
		t.Errorf("packed size %d, want 48 (C layout of int, ptr, float, double, int, long long)", a.n)
	}
}

// TestNoInit guards the rule that importing the package does nothing: no
// init function (gorgonia.org/cu's calls cuInit and exits the process on
// machines without a GPU).
func TestNoInit(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(?m)^func init\(`).Match(b) {
			t.Errorf("%s declares an init function; the package must not run code at import", f)
		}
	}
}
