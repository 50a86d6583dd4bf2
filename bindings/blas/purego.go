//go:build noblas

package blas

// Impl names the kernel behind Sgemm in this build.
const Impl = "pure Go (-tags noblas)"

// sgemm is a plain-Go kernel that allocates nothing: dot products of
// contiguous rows for A·Bᵀ, row axpys otherwise. It exists for builds
// without cgo BLAS and is several times slower than OpenBLAS.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if beta == 0 {
				row[j] = 0
			} else {
				row[j] *= beta
			}
		}
	}
	switch {
	case !transA && transB: // C += A·Bᵀ: dot products of rows
		for i := 0; i < m; i++ {
			ai := a[i*lda : i*lda+k]
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				bj := b[j*ldb : j*ldb+k]
				bj = bj[:len(ai)]
				var s float32
				for p, x := range ai {
					s += x * bj[p]
				}
				row[j] += alpha * s
			}
		}
	case !transA: // C += A·B: axpys of B's rows
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for p := 0; p < k; p++ {
				x := alpha * a[i*lda+p]
				bp := b[p*ldb : p*ldb+n]
				bp = bp[:len(row)]
				for j, y := range bp {
					row[j] += x * y
				}
			}
		}
	case !transB: // C += Aᵀ·B: axpys of B's rows, A read by columns
		for p := 0; p < k; p++ {
			bp := b[p*ldb : p*ldb+n]
			for i := 0; i < m; i++ {
				x := alpha * a[p*lda+i]
				row := c[i*ldc : i*ldc+n]
				row = row[:len(bp)]
				for j, y := range bp {
					row[j] += x * y
				}
			}
		}
	default: // C += Aᵀ·Bᵀ
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				var s float32
				for p := 0; p < k; p++ {
					s += a[p*lda+i] * b[j*ldb+p]
				}
				row[j] += alpha * s
			}
		}
	}
}
