package blas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// kernelInput returns n values spread over [-scale, scale], with the odd
// special value (±0, ±Inf, NaN, tanh's clamp point, a subnormal).
func kernelInput(rng *rand.Rand, n int, scale float64) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 9, -9, 1e-40}
	x := make([]float32, n)
	for i := range x {
		if rng.IntN(16) == 0 {
			x[i] = special[rng.IntN(len(special))]
		} else {
			x[i] = float32((2*rng.Float64() - 1) * scale)
		}
	}
	return x
}

// sameBits reports the first index where got and want differ in their
// bits (every NaN counts as the same), or -1.
func sameBits(got, want []float32) int {
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			return i
		}
	}
	return -1
}

// TestKernelsMatchGo holds this build's kernels to the Go loops bit for
// bit, over lengths around the vector widths and unaligned starts.
func TestKernelsMatchGo(t *testing.T) {
	t.Logf("kernels: %s", KernelsImpl)
	checkKernels(t)
}

// checkKernels compares the kernels in use with the Go loops.
func checkKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 4096, 5003}
	for _, n := range lengths {
		for _, off := range []int{0, 1, 3} {
			t.Run("tanh", func(t *testing.T) {
				z := kernelInput(rng, n+off, 12)[off:]
				want := append([]float32(nil), z...)
				tanhGo(want)
				Tanh(z)
				if i := sameBits(z, want); i >= 0 {
					t.Fatalf("n %d: tanh[%d] = %v, Go %v", n, i, z[i], want[i])
				}
			})
			t.Run("tanh grad", func(t *testing.T) {
				dh := kernelInput(rng, n+off, 3)[off:]
				h := kernelInput(rng, n+1, 1)[1:]
				want := append([]float32(nil), dh...)
				tanhGradGo(want, h)
				TanhGrad(dh, h)
				if i := sameBits(dh, want); i >= 0 {
					t.Fatalf("n %d: dh[%d] = %v, Go %v", n, i, dh[i], want[i])
				}
			})
			t.Run("relu", func(t *testing.T) {
				z := kernelInput(rng, n+off, 2)[off:]
				want := append([]float32(nil), z...)
				reluGo(want)
				ReLU(z)
				if i := sameBits(z, want); i >= 0 {
					t.Fatalf("n %d: relu[%d] = %v, Go %v", n, i, z[i], want[i])
				}
			})
			t.Run("relu grad", func(t *testing.T) {
				dh := kernelInput(rng, n+off, 3)[off:]
				h := kernelInput(rng, n+1, 1)[1:]
				want := append([]float32(nil), dh...)
				reluGradGo(want, h)
				ReLUGrad(dh, h)
				if i := sameBits(dh, want); i >= 0 {
					t.Fatalf("n %d: dh[%d] = %v, Go %v", n, i, dh[i], want[i])
				}
			})
			t.Run("column sums", func(t *testing.T) {
				for _, cols := range []int{1, 3, 16, 17, 64} {
					rows := n%13 + 1
					m := kernelInput(rng, rows*cols+off, 2)[off:]
					got, want := kernelInput(rng, cols, 1), make([]float32, cols)
					colSumsGo(want, m, rows)
					ColSums(got, m, rows, cols)
					if i := sameBits(got, want); i >= 0 {
						t.Fatalf("%d×%d: sum[%d] = %v, Go %v", rows, cols, i, got[i], want[i])
					}
				}
			})
			t.Run("add", func(t *testing.T) {
				dst, src := kernelInput(rng, n+off, 2)[off:], kernelInput(rng, n, 2)
				want := append([]float32(nil), dst...)
				addGo(want, src)
				Add(dst, src)
				if i := sameBits(dst, want); i >= 0 {
					t.Fatalf("n %d: dst[%d] = %v, Go %v", n, i, dst[i], want[i])
				}
			})
			t.Run("sum of squares", func(t *testing.T) {
				x := kernelInput(rng, n+off, 1e3)[off:]
				for i := range x {
					if math.IsNaN(float64(x[i])) || math.IsInf(float64(x[i]), 0) {
						x[i] = 1.5
					}
				}
				if got, want := SumSquares(x), sumSquaresGo(x); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("n %d: %v, Go %v", n, got, want)
				}
			})
			t.Run("adam", func(t *testing.T) {
				p, g, m := kernelInput(rng, n+off, 1)[off:], kernelInput(rng, n, 0.1), kernelInput(rng, n, 0.01)
				v := kernelInput(rng, n, 1e-4)
				for i := range v {
					v[i] = float32(math.Abs(float64(v[i])))
				}
				k := AdamCoefs{Scale: 0.37, Beta1: 0.9, Beta2: 0.999, Eps: 1e-5, StepSize: 3e-4 / (1 - math.Pow(0.9, 7)), SqrtBC2: math.Sqrt(1 - math.Pow(0.999, 7))}
				wp, wg, wm, wv := append([]float32(nil), p...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
				adamGo(wp, wg, wm, wv, k)
				Adam(p, g, m, v, k)
				for _, c := range []struct {
					name      string
					got, want []float32
				}{{"p", p, wp}, {"g", g, wg}, {"m", m, wm}, {"v", v, wv}} {
					if i := sameBits(c.got, c.want); i >= 0 {
						t.Fatalf("n %d: %s[%d] = %v, Go %v", n, c.name, i, c.got[i], c.want[i])
					}
				}
			})
		}
	}
}

// tanh32 is Tanh for one value.
func tanh32(x float32) float32 {
	z := [1]float32{x}
	Tanh(z[:])
	return z[0]
}

// TestTanhAccuracy checks the rational tanh against math.Tanh over every 97th
// float32 from 0 up past the clamp point, plus special values.
func TestTanhAccuracy(t *testing.T) {
	var worstRel float64
	var worstULP int64
	for bits := uint32(0); ; bits += 97 {
		x := math.Float32frombits(bits)
		if x > 12 {
			break
		}
		want := math.Tanh(float64(x))
		got := tanh32(x)
		if neg := tanh32(-x); neg != -got {
			t.Fatalf("tanh32(-%g) = %g, want -tanh32(%g) = %g", x, neg, x, -got)
		}
		if want != 0 {
			worstRel = math.Max(worstRel, math.Abs(float64(got)-want)/want)
		}
		ulp := int64(math.Float32bits(got)) - int64(math.Float32bits(float32(want)))
		worstULP = max(worstULP, ulp, -ulp)
	}
	if worstRel > 3e-7 || worstULP > 4 {
		t.Errorf("tanh32: worst relative error %.3g (want <= 3e-7), worst %d ulps (want <= 4)", worstRel, worstULP)
	}
	for _, c := range []struct{ x, want float32 }{{0, 0}, {9, 1}, {-9.5, -1}, {1e30, 1}, {float32(math.Inf(-1)), -1}} {
		if got := tanh32(c.x); got != c.want {
			t.Errorf("tanh32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if got := tanh32(float32(math.NaN())); !math.IsNaN(float64(got)) {
		t.Errorf("tanh32(NaN) = %g, want NaN", got)
	}
	t.Logf("worst relative error %.3g, %d ulps", worstRel, worstULP)
}

// TestSumSquaresOrder checks the documented summation order on values
// whose float64 sum depends on it.
func TestSumSquaresOrder(t *testing.T) {
	x := []float32{1 << 27, 1, 1, 1, 1, 1, 1, 1, 1 << 27, 1, 3}
	s := [8]float64{1 << 54, 1, 1, 1, 1, 1, 1, 1}
	tail := 0.0
	for _, v := range []float64{1 << 54, 1, 9} {
		tail += v
	}
	want := ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail
	if seq := 2*math.Pow(2, 54) + 9; want == seq {
		t.Fatalf("test values do not depend on the order (%v)", want)
	}
	if got := SumSquares(x); got != want {
		t.Errorf("SumSquares = %v, want %v", got, want)
	}
	if got := SumSquares(nil); got != 0 {
		t.Errorf("SumSquares(nil) = %v", got)
	}
}

func TestKernelsCheckLengths(t *testing.T) {
	for name, f := range map[string]func(){
		"TanhGrad": func() { TanhGrad(make([]float32, 3), make([]float32, 2)) },
		"Adam": func() {
			Adam(make([]float32, 3), make([]float32, 3), make([]float32, 2), make([]float32, 3), AdamCoefs{})
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("short buffer did not panic")
				}
			}()
			f()
		})
	}
}

// BenchmarkTanh is one PPO minibatch's tanh: 4 hidden layers of 64×64.
func BenchmarkTanh(b *testing.B) { benchTanh(b, Tanh) }

// BenchmarkTanhGo is BenchmarkTanh with the Go loop, its reference.
func BenchmarkTanhGo(b *testing.B) { benchTanh(b, tanhGo) }

func benchTanh(b *testing.B, tanh func([]float32)) {
	z := kernelInput(rand.New(rand.NewPCG(1, 1)), 64*64, 3)
	b.SetBytes(4 * int64(len(z)))
	for b.Loop() {
		for range 4 {
			tanh(z)
		}
	}
}

// BenchmarkAdam is one Adam step over the Hopper-sized nets' 10 119
// parameters: the gradient's sum of squares, then the update.
func BenchmarkAdam(b *testing.B) { benchAdam(b, SumSquares, Adam) }

// BenchmarkAdamGo is BenchmarkAdam with the Go loops, its reference.
func BenchmarkAdamGo(b *testing.B) { benchAdam(b, sumSquaresGo, adamGo) }

func benchAdam(b *testing.B, sumSquares func([]float32) float64, adam func(p, g, m, v []float32, k AdamCoefs)) {
	const n = 10119
	rng := rand.New(rand.NewPCG(1, 1))
	p, g, m, v := kernelInput(rng, n, 1), kernelInput(rng, n, 0.1), make([]float32, n), make([]float32, n)
	for i := range g {
		if math.IsNaN(float64(g[i])) || math.IsInf(float64(g[i]), 0) {
			g[i] = 0
		}
	}
	k := AdamCoefs{Scale: 1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-5, StepSize: 3e-4, SqrtBC2: 0.1}
	b.SetBytes(4 * n)
	for b.Loop() {
		_ = sumSquares(g)
		adam(p, g, m, v, k)
	}
}

// BenchmarkGoAfterKernel is a Go float loop (a 4096-long dot product, four
// accumulators) run
// right after a kernel call, against BenchmarkGoAfterGo, the same loop
// after the Go tanh. The two take the same time when the kernels leave
// the vector registers clean (vzeroupper); without it this Go loop, which
// is legacy SSE, ran at half speed on the development VM.
func BenchmarkGoAfterKernel(b *testing.B) { benchGoAfter(b, Tanh) }

// BenchmarkGoAfterGo is BenchmarkGoAfterKernel's reference.
func BenchmarkGoAfterGo(b *testing.B) { benchGoAfter(b, tanhGo) }

var dotSink float32

func benchGoAfter(b *testing.B, tanh func([]float32)) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, y, z := make([]float32, 4096), make([]float32, 4096), make([]float32, 9)
	for i := range x {
		x[i], y[i] = rng.Float32(), rng.Float32()
	}
	for b.Loop() {
		tanh(z)
		var s0, s1, s2, s3 float32
		for i := 0; i < len(x); i += 4 {
			s0 += x[i] * y[i]
			s1 += x[i+1] * y[i+1]
			s2 += x[i+2] * y[i+2]
			s3 += x[i+3] * y[i+3]
		}
		dotSink = s0 + s1 + s2 + s3
	}
}
