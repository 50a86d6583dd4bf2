//go:build ultracuda

package cuda_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/cuda"
	"github.com/ultra-rl/ultra/cuda/cudatest"
)

// TestFatbinSourcesHash fails when the kernel sources no longer match the
// SHA-256 recorded when the committed fatbin was built: the fatbin would
// then run other code than the sources (and the emulator) say.
func TestFatbinSourcesHash(t *testing.T) {
	dir := cudatest.KernelsDir()
	f, err := os.Open(filepath.Join(dir, "ultra.fatbin.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recorded := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && !strings.HasPrefix(fields[0], "#") {
			recorded[fields[1]] = fields[0]
		}
	}
	var sources []string
	for _, pat := range []string{"*.cu", "*.cuh"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		sources = append(sources, m...)
	}
	sort.Strings(sources)
	if len(sources) == 0 {
		t.Fatal("no kernel sources found")
	}
	for _, path := range sources {
		name := filepath.Base(path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		switch want, ok := recorded[name]; {
		case !ok:
			t.Errorf("%s is not recorded in ultra.fatbin.sha256: run make cuda-kernels", name)
		case want != hex.EncodeToString(sum[:]):
			t.Errorf("%s changed since ultra.fatbin was built: run make cuda-kernels (needs nvcc: scripts/install-cuda-toolkit.sh) and commit the fatbin", name)
		}
		delete(recorded, name)
	}
	for name := range recorded {
		t.Errorf("ultra.fatbin.sha256 records %s, which is not a kernel source any more: run make cuda-kernels", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ultra.fatbin"))
	if err != nil || len(b) < 4 || b[0] != 0x50 || b[1] != 0xed || b[2] != 0x55 || b[3] != 0xba {
		t.Errorf("ultra.fatbin is missing or not a fatbin (magic 0xBA55ED50): %v", err)
	}
}

// TestPrototypes compiles kernels/emu/protocheck.cc against NVIDIA's
// cuda.h and cublas_api.h where they are installed, checking ucuda.h's own
// prototypes; elsewhere it says why it skips.
func TestPrototypes(t *testing.T) {
	var inc string
	for _, d := range []string{os.Getenv("CUDA_HOME") + "/include", "/usr/local/cuda/include", "/usr/include"} {
		if _, err := os.Stat(filepath.Join(d, "cublas_v2.h")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "cuda.h")); err == nil {
				inc = d
				break
			}
		}
	}
	if inc == "" {
		t.Skip("NVIDIA's cuda.h and cublas_v2.h are not installed (scripts/install-cuda-toolkit.sh installs them): ucuda.h's prototypes are not checked")
	}
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	cmd := exec.Command(cxx, "-std=c++17", "-fsyntax-only", "-I"+inc, filepath.Join(cudatest.KernelsDir(), "emu", "protocheck.cc"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ucuda.h disagrees with %s/cuda.h or cublas_api.h: %v\n%s", inc, err, out)
	}
	t.Logf("ucuda.h's %s prototypes match the headers in %s", "driver and cuBLAS", inc)
}

// TestNoDevice checks the errors without a GPU: a missing driver library,
// the emulator answering CUDA_ERROR_NO_DEVICE, and — where the NVIDIA
// driver library is installed but no GPU is present, as on CI machines
// with the toolkit — the real driver's answer.
func TestNoDevice(t *testing.T) {
	_, err := cuda.Open(cuda.Options{Driver: "/nonexistent/libcuda.so.1"})
	if !cuda.IsNoDevice(err) || !strings.Contains(err.Error(), "cannot load the NVIDIA driver library /nonexistent/libcuda.so.1") {
		t.Errorf("missing driver: %v", err)
	}
	opts := cudatest.Emulator(t)
	t.Setenv("ULTRA_FAKE_CUDA", "nodevice")
	_, err = cuda.Open(opts)
	if !cuda.IsNoDevice(err) || err.Error() != "cuda: cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)" {
		t.Errorf("emulated no device: %v", err)
	}
	if os.Getenv("ULTRA_TEST_GPU") != "" {
		return
	}
	d, err := cuda.Open(cuda.Options{})
	if err == nil {
		d.Close()
		t.Skip("a GPU is present; set ULTRA_TEST_GPU=1 to run the GPU tests")
	}
	if !cuda.IsNoDevice(err) {
		t.Errorf("real driver without a GPU: %v, want a no-device error", err)
	}
	t.Logf("this machine: %v", err)
}

func TestOpenEmulator(t *testing.T) {
	d := cudatest.OpenEmulator(t)
	info := d.Info()
	if info.Name != "ultra CPU emulator" || info.Major != 9 || info.SMs != 1 || info.CublasLibrary == "" {
		t.Errorf("Info = %+v", info)
	}
	if _, err := cuda.Open(cuda.Options{Ordinal: 3, Driver: cudatest.Emulator(t).Driver, Cublas: cudatest.Emulator(t).Cublas}); err == nil ||
		!strings.Contains(err.Error(), "CUDA_ERROR_INVALID_DEVICE") || !strings.Contains(err.Error(), "device 3 asked for, 1 device(s) visible") {
		t.Errorf("ordinal 3: %v", err)
	}
	o := cudatest.Emulator(t)
	o.Cublas = "/nonexistent/libcublas.so.12"
	if _, err := cuda.Open(o); err == nil || !strings.Contains(err.Error(), "no usable cuBLAS") {
		t.Errorf("missing cuBLAS: %v", err)
	}
}

// TestPool checks reuse, accounting, the retry after freeing cached blocks
// when the device is full, and Close.
func TestPool(t *testing.T) {
	opts := cudatest.Emulator(t)
	t.Setenv("ULTRA_FAKE_CUDA_MEMORY", "3000000")
	d, err := cuda.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := d.MemStats() // the device's own small buffers
	a, err := d.Alloc(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Free(a); err != nil {
		t.Fatal(err)
	}
	b, err := d.Alloc(1<<20 - 100) // same class: the cached block comes back
	if err != nil || b.Ptr != a.Ptr {
		t.Errorf("reuse: %v, ptr %x vs %x", err, b.Ptr, a.Ptr)
	}
	if err := d.Free(b); err != nil {
		t.Fatal(err)
	}
	// 2 MB does not fit next to the cached 1 MB block: it is freed, and the retry fits.
	c, err := d.Alloc(2 << 20)
	if err != nil {
		t.Fatalf("allocation after freeing the cache: %v", err)
	}
	if inUse, cached := d.MemStats(); inUse != base+2<<20 || cached != 0 {
		t.Errorf("MemStats = %d in use, %d cached", inUse, cached)
	}
	_, err = d.Alloc(2 << 20)
	if !cuda.IsOutOfMemory(err) || !strings.Contains(err.Error(), "in use by ultra") {
		t.Errorf("over the limit: %v", err)
	}
	if err := d.Free(c); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Alloc(4); err == nil {
		t.Error("Alloc after Close: no error")
	}
}

// device is an emulated device with helpers for the kernel tests.
type device struct {
	*cuda.Device
	t *testing.T
}

func (d device) up(x []float32) cuda.Ptr {
	b, err := d.Alloc(4 * max(len(x), 1))
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.Upload(b.Ptr, x); err != nil {
		d.t.Fatal(err)
	}
	return b.Ptr
}

func (d device) down(p cuda.Ptr, n int) []float32 {
	x := make([]float32, n)
	if err := d.Download(x, p); err != nil {
		d.t.Fatal(err)
	}
	return x
}

func randF(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
			return
		}
	}
}

// TestGemm checks the row-major product in all four transpose combinations,
// with beta 0 (C not read: the emulator fills new memory with NaN) and 1.
func TestGemm(t *testing.T) {
	d := device{cudatest.Open(t), t}
	rng := rand.New(rand.NewPCG(1, 1))
	const m, n, k = 5, 7, 3
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			a, b, c0 := randF(rng, m*k), randF(rng, k*n), randF(rng, m*n)
			at := func(i, l int) float64 {
				if ta {
					return float64(a[l*m+i])
				}
				return float64(a[i*k+l])
			}
			bt := func(l, j int) float64 {
				if tb {
					return float64(b[j*k+l])
				}
				return float64(b[l*n+j])
			}
			for _, beta := range []float32{0, 1} {
				want := make([]float64, m*n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						s := 0.0
						for l := 0; l < k; l++ {
							s += at(i, l) * bt(l, j)
						}
						want[i*n+j] = 2*s + float64(beta)*float64(c0[i*n+j])
					}
				}
				cbuf, err := d.Alloc(4 * m * n)
				if err != nil {
					t.Fatal(err)
				}
				if beta != 0 {
					d.Upload(cbuf.Ptr, c0)
				}
				if err := d.Gemm(ta, tb, m, n, k, 2, d.up(a), d.up(b), beta, cbuf.Ptr); err != nil {
					t.Fatal(err)
				}
				near(t, "gemm", d.down(cbuf.Ptr, m*n), want, 1e-6)
			}
		}
	}
}

// TestColSum checks single- and multi-pass reductions, a leading dimension
// larger than the width, and the float64 variants.
func TestColSum(t *testing.T) {
	d := device{cudatest.Open(t), t}
	rng := rand.New(rand.NewPCG(2, 2))
	for _, tc := range []struct{ rows, cols, ld int }{{1, 1, 1}, {64, 3, 3}, {65, 3, 5}, {5000, 7, 7}, {300000, 1, 4}} {
		x := randF(rng, tc.rows*tc.ld)
		want := make([]float64, tc.cols)
		for r := 0; r < tc.rows; r++ {
			for c := 0; c < tc.cols; c++ {
				want[c] += float64(x[r*tc.ld+c])
			}
		}
		px := d.up(x)
		out, _ := d.Alloc(8 * tc.cols)
		if err := d.ColSum(px, tc.rows, tc.cols, tc.ld, out.Ptr); err != nil {
			t.Fatal(err)
		}
		near(t, "ColSum", d.down(out.Ptr, tc.cols), want, 1e-4*math.Sqrt(float64(tc.rows)))
		if err := d.ColSumF64(px, tc.rows, tc.cols, tc.ld, false, out.Ptr); err != nil {
			t.Fatal(err)
		}
		got := make([]float64, tc.cols)
		if err := d.DownloadFloat64(got, out.Ptr); err != nil {
			t.Fatal(err)
		}
		for c := range want {
			if math.Abs(got[c]-want[c]) > 1e-9*(1+math.Abs(want[c])) {
				t.Errorf("ColSumF64 %+v: [%d] = %v, want %v", tc, c, got[c], want[c])
			}
		}
	}
	if err := d.ColSum(d.up([]float32{1}), 1, 2, 1, d.up([]float32{0, 0})); err == nil {
		t.Error("ColSum with ld < cols: no error")
	}
}

// TestIm2ColCol2Im checks im2col against a direct reading of the input in
// both layouts, and col2im as its adjoint: <im2col(x), y> = <x, col2im(y)>.
func TestIm2ColCol2Im(t *testing.T) {
	d := device{cudatest.Open(t), t}
	rng := rand.New(rand.NewPCG(3, 3))
	for _, g := range []cuda.Conv{
		{N: 2, C: 3, H: 11, W: 9, K: 4, S: 2, OH: 4, OW: 3},
		{N: 3, C: 2, H: 8, W: 8, K: 3, S: 1, OH: 6, OW: 6, NHWC: true},
		{N: 1, C: 4, H: 36, W: 36, K: 8, S: 4, OH: 8, OW: 8},
	} {
		in := func(b, c, y, x int) int {
			if g.NHWC {
				return ((b*g.H+y)*g.W+x)*g.C + c
			}
			return ((b*g.C+c)*g.H+y)*g.W + x
		}
		nx, K := g.N*g.C*g.H*g.W, g.C*g.K*g.K
		rows := g.N * g.OH * g.OW
		x, y := randF(rng, nx), randF(rng, rows*K)
		col, _ := d.Alloc(4 * rows * K)
		if err := d.Im2Col(d.up(x), col.Ptr, g); err != nil {
			t.Fatal(err)
		}
		got := d.down(col.Ptr, rows*K)
		var lhs float64
		for b := 0; b < g.N; b++ {
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					r := (b*g.OH+oy)*g.OW + ox
					for c := 0; c < g.C; c++ {
						for ky := 0; ky < g.K; ky++ {
							for kx := 0; kx < g.K; kx++ {
								j := c*g.K*g.K + ky*g.K + kx
								want := x[in(b, c, oy*g.S+ky, ox*g.S+kx)]
								if got[r*K+j] != want {
									t.Fatalf("%+v: col[%d, %d] = %v, want %v", g, r, j, got[r*K+j], want)
								}
								lhs += float64(want) * float64(y[r*K+j])
							}
						}
					}
				}
			}
		}
		dx, _ := d.Alloc(4 * nx)
		if err := d.Col2Im(d.up(y), dx.Ptr, g); err != nil {
			t.Fatal(err)
		}
		var rhs float64
		for i, v := range d.down(dx.Ptr, nx) {
			rhs += float64(v) * float64(x[i])
		}
		if math.Abs(lhs-rhs) > 1e-4*math.Abs(lhs)+1e-3 {
			t.Errorf("%+v: <im2col(x), y> = %v, <x, col2im(y)> = %v", g, lhs, rhs)
		}
	}
}

func TestTransposeGatherAct(t *testing.T) {
	d := device{cudatest.Open(t), t}
	rng := rand.New(rand.NewPCG(4, 4))
	x := randF(rng, 2*3*5)
	out, _ := d.Alloc(4 * 30)
	if err := d.Transpose(d.up(x), out.Ptr, 2, 3, 5); err != nil {
		t.Fatal(err)
	}
	got := d.down(out.Ptr, 30)
	for b := 0; b < 2; b++ {
		for i := 0; i < 3; i++ {
			for j := 0; j < 5; j++ {
				if got[b*15+j*3+i] != x[b*15+i*5+j] {
					t.Fatalf("transpose[%d][%d][%d]", b, j, i)
				}
			}
		}
	}
	idx, _ := d.Alloc(4 * 3)
	d.UploadInt32(idx.Ptr, []int32{4, 0, 4})
	src := randF(rng, 5*2)
	if err := d.GatherRows(out.Ptr, d.up(src), idx.Ptr, 3, 2); err != nil {
		t.Fatal(err)
	}
	near(t, "gather", d.down(out.Ptr, 6), []float64{float64(src[8]), float64(src[9]), float64(src[0]), float64(src[1]), float64(src[8]), float64(src[9])}, 0)
	// ReLU forward and backward at and around 0, with a bias.
	z := d.up([]float32{-1, 0, 2, float32(math.NaN())})
	if err := d.BiasAct(z, d.up([]float32{0.5, 0, 0, 0}), 1, 4, cuda.ActReLU); err != nil {
		t.Fatal(err)
	}
	h := d.down(z, 4)
	if h[0] != 0 || h[1] != 0 || h[2] != 2 || !math.IsNaN(float64(h[3])) {
		t.Errorf("relu(z + b) = %v, want [0 0 2 NaN]", h)
	}
	dz := d.up([]float32{1, 1, 1, 1})
	if err := d.ActBack(dz, z, 4, cuda.ActReLU); err != nil {
		t.Fatal(err)
	}
	if g := d.down(dz, 4); g[0] != 0 || g[1] != 0 || g[2] != 1 || g[3] != 0 {
		t.Errorf("relu' = %v, want [0 0 1 0]", g)
	}
}

// TestLaunchArgumentsChecked checks that the emulator rejects a launch
// whose pointer argument is outside every allocation, or whose allocation
// is shorter than what the kernel indexes from it for the launch's sizes,
// naming the kernel and the argument, so that a launcher that packs its
// arguments wrongly or sizes a buffer short fails the tests instead of
// corrupting memory.
func TestLaunchArgumentsChecked(t *testing.T) {
	d := device{cudatest.OpenEmulator(t), t}
	short := d.up(make([]float32, 6)) // a block of 256 bytes: 64 floats
	idx, err := d.Alloc(8)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.UploadInt32(idx.Ptr, []int32{0, 64}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		launch func() error
		want   []string
	}{
		{"wild pointer", func() error { return d.BiasAct(cuda.Ptr(0x1000), 0, 1, 1, cuda.ActNone) },
			[]string{"cuLaunchKernel(ultra_bias_act): CUDA_ERROR_INVALID_VALUE", "argument 0 (z)", "not in a live allocation"}},
		{"matrix past its allocation", func() error { return d.BiasAct(short, 0, 13, 5, cuda.ActTanh) },
			[]string{"cuLaunchKernel(ultra_bias_act)", "argument 0 (z), indexed for 65 elements", "spans 260 bytes, but only 256"}},
		{"bias past its allocation", func() error { return d.BiasAct(short, short.F32(60), 2, 5, cuda.ActNone) },
			[]string{"cuLaunchKernel(ultra_bias_act)", "argument 1 (bias), indexed for 5 elements", "only 16"}},
		{"gathered row past the source", func() error { return d.GatherRows(short.F32(20), short, idx.Ptr, 2, 1) },
			[]string{"cuLaunchKernel(ultra_gather_rows)", "argument 1 (src), indexed for 65 elements"}},
		{"transposed past the destination", func() error { return d.Transpose(short, short.F32(1), 1, 8, 8) },
			[]string{"cuLaunchKernel(ultra_transpose)", "argument 1 (dst), indexed for 64 elements", "only 252"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.launch()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\nwant it to say %q", err, w)
				}
			}
		})
	}
	if err := d.Upload(cuda.Ptr(0x1000), []float32{1}); err == nil {
		t.Error("upload to a wild pointer: no error")
	}
}

// TestPinnedCopies checks the asynchronous copies through page-locked
// memory: they refuse Go memory, a DownloadAsync's data arrive only when
// the host waits, and an UploadAsync reads its source when the device
// runs it, so a host that writes the staging before waiting changes what
// arrives (the emulator runs queued work when the host waits; on a GPU
// that would be a race, so this runs on the emulator only).
func TestPinnedCopies(t *testing.T) {
	d := device{cudatest.OpenEmulator(t), t}
	h, err := d.AllocHost(16)
	if err != nil {
		t.Fatal(err)
	}
	buf := d.up([]float32{1, 2, 3, 4})
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"UploadAsync from Go memory", d.UploadAsync(buf, []float32{1})},
		{"DownloadAsync into Go memory", d.DownloadAsync(make([]float32, 1), buf)},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), "not in a HostBuffer of this Device") {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
	x := h.Float32s(0, 4)
	before := cudatest.ReadCounters(t)
	if err := d.DownloadAsync(x, buf); err != nil {
		t.Fatal(err)
	}
	if x[0] == 1 {
		t.Error("the download arrived before the host waited")
	}
	if err := d.SyncPinned(); err != nil {
		t.Fatal(err)
	}
	near(t, "downloaded", x, []float64{1, 2, 3, 4}, 0)
	copy(x, []float32{5, 6, 7, 8})
	if err := d.UploadAsync(buf, x); err != nil {
		t.Fatal(err)
	}
	x[3] = 9 // too early: the copy has not run
	if err := d.SyncPinned(); err != nil {
		t.Fatal(err)
	}
	near(t, "uploaded", d.down(buf, 4), []float64{5, 6, 7, 9}, 0)
	if err := d.SyncPinned(); err != nil {
		t.Fatal(err)
	}
	c := cudatest.ReadCounters(t).Sub(before)
	if c.HtoD != 1 || c.DtoH != 2 || c.HtoDPageable != 0 || c.DtoHPageable != 1 || c.Syncs != 3 {
		t.Errorf("counters: %+v; want 1 upload and 2 downloads, of which 1 (down's) pageable, and 3 waits (the last SyncPinned follows down's wait and does not wait)", c)
	}
	if err := d.FreeHost(h); err != nil {
		t.Fatal(err)
	}
	if err := d.FreeHost(h); err == nil || !strings.Contains(err.Error(), "not a live HostBuffer") {
		t.Errorf("second FreeHost: %v", err)
	}
}

// TestPoolRefusesBadFree checks that the pool refuses a second Free of a
// block and a Buffer whose size class is not its block's: either would put
// a block on a free list it does not belong to, and later allocations
// would share memory or get a block smaller than asked for.
func TestPoolRefusesBadFree(t *testing.T) {
	for _, tc := range []struct {
		name string
		// bad returns the buffer freed wrongly, a block still in use that
		// later allocations must not return (0: none), and the size that,
		// if the pool took the Free, would be given the wrong block.
		bad  func(d *cuda.Device) (b cuda.Buffer, held cuda.Ptr, size int)
		want string
	}{
		{"double free", func(d *cuda.Device) (cuda.Buffer, cuda.Ptr, int) {
			a := mustAlloc(t, d, 1<<20)
			if err := d.Free(a); err != nil {
				t.Fatal(err)
			}
			return a, 0, 1 << 20
		}, "block already free (double free)"},
		{"foreign size class", func(d *cuda.Device) (cuda.Buffer, cuda.Ptr, int) {
			small, big := mustAlloc(t, d, 256), mustAlloc(t, d, 1<<20)
			big.Ptr = small.Ptr // a 256-byte block passed as a 1 MiB buffer
			return big, small.Ptr, 1 << 20
		}, "a Buffer of size class 1048576 bytes (asked 1048576) for a block of class 256"},
		{"not from the pool", func(d *cuda.Device) (cuda.Buffer, cuda.Ptr, int) {
			return cuda.Buffer{Ptr: 0x1000, Bytes: 256}, 0, 256
		}, "not a block of this device's pool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := cudatest.OpenEmulator(t)
			b, held, size := tc.bad(d)
			inUse, cached := d.MemStats()
			if err := d.Free(b); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Free = %v, want an error saying %q", err, tc.want)
			}
			if u, c := d.MemStats(); u != inUse || c != cached {
				t.Errorf("MemStats after the refused Free: %d in use, %d cached; want %d, %d", u, c, inUse, cached)
			}
			x, y := mustAlloc(t, d, size), mustAlloc(t, d, size)
			if x.Ptr == y.Ptr || (held != 0 && (x.Ptr == held || y.Ptr == held)) {
				t.Errorf("allocations after the bad Free share a block: %#x, %#x (in use: %#x)", x.Ptr, y.Ptr, held)
			}
		})
	}
}

func mustAlloc(t *testing.T, d *cuda.Device, bytes int) cuda.Buffer {
	t.Helper()
	b, err := d.Alloc(bytes)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCublasContextCurrent opens each device of a two-device emulator that
// clears the calling thread's context after every cuBLAS call (a goroutine
// moving to another OS thread between cgo calls) and checks that Open
// (cuBLAS's handle, stream, math mode and version) and products on both
// devices, interleaved, still run with their own context current: every
// cuBLAS call must make its context current in the same cgo call.
func TestCublasContextCurrent(t *testing.T) {
	t.Setenv("ULTRA_FAKE_CUDA_DEVICES", "2")
	t.Setenv("ULTRA_FAKE_CUDA_MIGRATE", "1")
	var devs []device
	for _, ordinal := range []int{1, 0} {
		o := cudatest.Emulator(t)
		o.Ordinal = ordinal
		d, err := cuda.Open(o)
		if err != nil {
			t.Fatalf("Open(ordinal %d): %v", ordinal, err)
		}
		t.Cleanup(func() {
			if err := d.Close(); err != nil {
				t.Errorf("Close(ordinal %d): %v", ordinal, err)
			}
		})
		if got := d.Info().Ordinal; got != ordinal {
			t.Errorf("Info().Ordinal = %d, want %d", got, ordinal)
		}
		devs = append(devs, device{d, t})
	}
	before := cudatest.ReadCounters(t)
	for round := range 2 {
		for _, d := range devs {
			t.Run(fmt.Sprintf("ordinal %d round %d", d.Info().Ordinal, round), func(t *testing.T) {
				a, b := d.up([]float32{1, 2, 3, 4}), d.up([]float32{5, 6, 7, 8})
				c, err := d.Alloc(16)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Gemm(false, false, 2, 2, 2, 1, a, b, 0, c.Ptr); err != nil {
					t.Fatal(err)
				}
				near(t, "[1 2; 3 4]·[5 6; 7 8]", d.down(c.Ptr, 4), []float64{19, 22, 43, 50}, 0)
			})
		}
	}
	if n := cudatest.ReadCounters(t).Sub(before).BlasCalls; n != 4 {
		t.Errorf("%d cuBLAS calls counted, want 4 products", n)
	}
	// The devices' memory is their own, as on two GPUs.
	p := devs[0].up([]float32{1})
	if err := devs[1].Upload(p, []float32{2}); err == nil {
		t.Error("ordinal 0 wrote device 1's memory: no error")
	}
}

// TestKernelFault checks what the user sees when a kernel faults on the
// device (the emulator injects CUDA_ERROR_ILLEGAL_ADDRESS into a named
// kernel): by default the fault surfaces at the next wait, whose error says
// that an earlier launch failed, how to name it (ULTRA_CUDA_SYNC=1), that
// the error is sticky for every Device of the process on that GPU (they
// share its primary context: a second Device fails too) and what to do;
// with ULTRA_CUDA_SYNC=1 the launch itself fails, naming the kernel.
func TestKernelFault(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sync      string
		launchErr []string // nil: the launch succeeds
		waitErr   []string
	}{
		{"asynchronous", "", nil, []string{"cuda: cuMemcpyDtoHAsync: CUDA_ERROR_ILLEGAL_ADDRESS",
			"a kernel or cuBLAS call queued earlier failed", "ULTRA_CUDA_SYNC=1", "sticky", "every Device of this process on this GPU",
			"restart the process"}},
		{"ULTRA_CUDA_SYNC=1", "1", []string{"cuda: ultra_bias_act failed (ULTRA_CUDA_SYNC=1: cuStreamSynchronize after it): CUDA_ERROR_ILLEGAL_ADDRESS",
			"sticky", "restart the process"}, []string{"CUDA_ERROR_ILLEGAL_ADDRESS", "sticky"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := cudatest.Emulator(t)
			t.Setenv("ULTRA_CUDA_SYNC", tc.sync)
			t.Setenv("ULTRA_FAKE_CUDA_FAULT", "ultra_bias_act")
			var devs [2]device
			for i := range devs {
				d, err := cuda.Open(o)
				if err != nil {
					t.Fatal(err)
				}
				// Close reports the sticky error too; it still releases the context.
				t.Cleanup(func() { d.Close() })
				devs[i] = device{d, t}
			}
			a, other := devs[0], devs[1]
			if got := a.Info().Sync; got != (tc.sync == "1") {
				t.Errorf("Info().Sync = %v with ULTRA_CUDA_SYNC=%q", got, tc.sync)
			}
			z, otherBuf := a.up([]float32{1, 2}), other.up([]float32{3})
			err := a.BiasAct(z, 0, 1, 2, cuda.ActTanh)
			if tc.launchErr == nil {
				if err != nil {
					t.Fatalf("launch: %v, want success (the fault is found later)", err)
				}
			} else {
				hasAll(t, "launch", err, tc.launchErr)
				if err != nil && strings.Contains(err.Error(), "to name it") {
					t.Errorf("launch: %v: names the kernel, yet tells how to name it", err)
				}
			}
			hasAll(t, "the faulting Device's next download", a.Download(make([]float32, 2), z), tc.waitErr)
			hasAll(t, "another Device's download", other.Download(make([]float32, 1), otherBuf), tc.waitErr)
		})
	}
}

// hasAll fails unless err's message contains every one of want.
func hasAll(t *testing.T, what string, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	t.Logf("%s: %v", what, err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %v\nwant it to say %q", what, err, w)
		}
	}
}

// TestCopy checks the device-to-device copy: the data arrive, and nothing
// crosses to the host or waits for the device.
func TestCopy(t *testing.T) {
	d := device{cudatest.OpenEmulator(t), t}
	src := d.up([]float32{1, 2, 3})
	dst := d.up([]float32{0, 0, 0})
	before := cudatest.ReadCounters(t)
	if err := d.Copy(dst, src, 12); err != nil {
		t.Fatal(err)
	}
	if c := cudatest.ReadCounters(t).Sub(before); c.DtoD != 1 || c.DtoDBytes != 12 || c.DtoH != 0 || c.HtoD != 0 || c.Syncs != 0 {
		t.Errorf("counters of one 12-byte Copy: %+v", c)
	}
	near(t, "copy", d.down(dst, 3), []float64{1, 2, 3}, 0)
}
