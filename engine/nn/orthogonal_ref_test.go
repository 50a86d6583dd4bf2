package nn

import "math"

// householderQ is the textbook column-wise Householder QR that
// householderQRows must reproduce bit for bit (see TestOrthogonalFast).
// It factorises the m×k (m >= k) row-major matrix a = Q·R in place
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
