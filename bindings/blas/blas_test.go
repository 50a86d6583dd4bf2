package blas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ref is C = alpha·op(A)·op(B) + beta·C in float64, the definition.
func ref(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			old := 0.0
			if beta != 0 {
				old = float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = float64(alpha)*s + old
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	t.Logf("kernel: %s", Impl)
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	for _, tc := range []struct {
		m, n, k        int
		transA, transB bool
		alpha, beta    float32
		pad            int // extra columns in every leading dimension
	}{
		{64, 64, 64, false, true, 1, 0, 0},
		{7, 5, 3, false, false, 1, 0, 0},
		{7, 5, 3, true, false, 2, 1, 0},
		{7, 5, 3, true, true, -1, 0.5, 2},
		{33, 17, 129, false, true, 1, 1, 3},
		{1, 1, 1, false, false, 1, 0, 0},
		{5, 4, 0, false, false, 1, 0.5, 0},
	} {
		ar, ac := tc.m, tc.k
		if tc.transA {
			ar, ac = tc.k, tc.m
		}
		br, bc := tc.k, tc.n
		if tc.transB {
			br, bc = tc.n, tc.k
		}
		lda, ldb, ldc := max(ac+tc.pad, 1), max(bc+tc.pad, 1), tc.n+tc.pad
		a, b, c := fill(max(ar*lda, 1)), fill(max(br*ldb, 1)), fill(tc.m*ldc)
		if tc.beta == 0 {
			for i := range c {
				c[i] = float32(math.NaN()) // beta 0 must not read C
			}
		}
		want := ref(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				got, w := float64(c[i*ldc+j]), want[i*tc.n+j]
				if math.Abs(got-w) > 1e-4*(1+math.Abs(w)) {
					t.Fatalf("%+v: C[%d,%d] = %v, want %v", tc, i, j, got, w)
				}
			}
		}
	}
}

func TestSgemmChecksShapes(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("a short C did not panic")
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, make([]float32, 15), 4)
}

func BenchmarkSgemm64(b *testing.B) {
	x, y, z := make([]float32, 64*64), make([]float32, 64*64), make([]float32, 64*64)
	b.SetBytes(2 * 64 * 64 * 64) // FLOPs, reported as "MB/s" = MFLOP/s
	for b.Loop() {
		Sgemm(false, true, 64, 64, 64, 1, x, 64, y, 64, 0, z, 64)
	}
}
