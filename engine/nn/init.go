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
	return orthogonal(rows, cols, gain, rng, householderQRows)
}

// orthogonal is Orthogonal with the QR factorisation passed in (a test
// checks the row-wise one against the textbook column-wise one).
func orthogonal(rows, cols int, gain float64, rng *rand.Rand, householder func(a []float64, m, k int) []float64) []float32 {
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
	q := householder(a, m, k)
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

// reflectRows applies A[j:, c0:] -= 2 v (vᵀ A[j:, c0:]) to the row-major
// m×k matrix a, walking rows (d[c] sums over i in increasing order, as the
// column loop of householderQ does).
func reflectRows(a, v, d []float64, j, c0, m, k int) {
	clear(d)
	for i := j; i < m; i++ {
		vi := v[i-j]
		row := a[i*k : (i+1)*k]
		for c := c0; c < k; c++ {
			d[c] += vi * row[c]
		}
	}
	for i := j; i < m; i++ {
		vi := v[i-j]
		row := a[i*k : (i+1)*k]
		for c := c0; c < k; c++ {
			row[c] -= 2 * d[c] * vi
		}
	}
}

// householderQRows factorises the m×k (m >= k) row-major matrix a = Q·R in
// place with Householder reflections and returns the m×k matrix Q with its
// columns sign-corrected so that R has a non-negative diagonal. Its loops
// walk rows, which keeps large weights (the CNN's 512×3136 layer) fast.
func householderQRows(a []float64, m, k int) []float64 {
	vs := make([][]float64, k)
	diag := make([]float64, k)
	d := make([]float64, k)
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
		reflectRows(a, v, d, j, j, m, k)
		diag[j] = alpha
	}
	q := make([]float64, m*k)
	for j := 0; j < k; j++ {
		q[j*k+j] = 1
	}
	for j := k - 1; j >= 0; j-- {
		if vs[j] != nil {
			reflectRows(q, vs[j], d, j, 0, m, k)
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
