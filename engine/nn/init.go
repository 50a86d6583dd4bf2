package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Orthogonal returns a rows×cols row-major matrix initialised like
// torch.nn.init.orthogonal_(w, gain) for a weight of shape [rows, cols]:
// draw a standard Gaussian matrix (transposed when rows < cols so that it is
// tall), take its reduced QR decomposition, multiply each column of Q by
// the sign of the matching diagonal entry of R (which makes the result
// unique and uniformly distributed over orthogonal matrices), transpose
// back if needed and scale by gain. The result satisfies W·Wᵀ = gain²·I when
// rows <= cols and Wᵀ·W = gain²·I when rows > cols.
//
// The maths is done in float64 with Householder reflections. It panics if
// rows or cols is negative.
func Orthogonal(rows, cols int, gain float64, rng *rand.Rand) []float32 {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("nn: Orthogonal: negative shape %d×%d", rows, cols))
	}
	out := make([]float32, rows*cols)
	if rows == 0 || cols == 0 {
		return out
	}
	flat := make([]float64, rows*cols)
	for i := range flat {
		flat[i] = rng.NormFloat64()
	}
	// a is the tall m×k matrix to factorise (row-major).
	m, k := rows, cols
	a := flat
	transposed := rows < cols
	if transposed {
		m, k = cols, rows
		a = make([]float64, m*k)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				a[j*k+i] = flat[i*cols+j]
			}
		}
	}
	q := householderQ(a, m, k)
	if transposed {
		// W = Qᵀ: W[i][j] = Q[j][i], W is rows×cols = k×m.
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				out[i*cols+j] = float32(gain * q[j*k+i])
			}
		}
		return out
	}
	for i, x := range q {
		out[i] = float32(gain * x)
	}
	return out
}

// householderQ factorises the m×k (m >= k) row-major matrix a = Q·R in place
// and returns the m×k matrix Q with its columns sign-corrected so that R has
// a non-negative diagonal.
func householderQ(a []float64, m, k int) []float64 {
	vs := make([][]float64, k) // Householder vectors, vs[j] has length m-j
	diag := make([]float64, k) // diagonal of R
	for j := 0; j < k; j++ {
		var norm float64
		for i := j; i < m; i++ {
			norm += a[i*k+j] * a[i*k+j]
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			diag[j] = 0
			continue
		}
		alpha := -norm
		if a[j*k+j] < 0 {
			alpha = norm
		}
		v := make([]float64, m-j)
		for i := j; i < m; i++ {
			v[i-j] = a[i*k+j]
		}
		v[0] -= alpha
		var vn float64
		for _, x := range v {
			vn += x * x
		}
		vn = math.Sqrt(vn)
		for i := range v {
			v[i] /= vn
		}
		vs[j] = v
		// A[j:, j:] -= 2 v (vᵀ A[j:, j:])
		for c := j; c < k; c++ {
			var d float64
			for i := j; i < m; i++ {
				d += v[i-j] * a[i*k+c]
			}
			for i := j; i < m; i++ {
				a[i*k+c] -= 2 * d * v[i-j]
			}
		}
		diag[j] = alpha
	}
	// Q = H_0 H_1 ... H_{k-1} applied to the first k columns of I.
	q := make([]float64, m*k)
	for j := 0; j < k; j++ {
		q[j*k+j] = 1
	}
	for j := k - 1; j >= 0; j-- {
		v := vs[j]
		if v == nil {
			continue
		}
		for c := 0; c < k; c++ {
			var d float64
			for i := j; i < m; i++ {
				d += v[i-j] * q[i*k+c]
			}
			for i := j; i < m; i++ {
				q[i*k+c] -= 2 * d * v[i-j]
			}
		}
	}
	for j := 0; j < k; j++ {
		if diag[j] < 0 {
			for i := 0; i < m; i++ {
				q[i*k+j] = -q[i*k+j]
			}
		}
	}
	return q
}
