// Package blas is the engine's one seam to compiled numeric kernels: every
// dense product of the native networks goes through [Sgemm], and their
// element-wise hot loops (tanh and its derivative, bias sums, Adam) through
// the kernels of kernels.go, vectorised C in the default build.
//
// The default build binds OpenBLAS (Debian's libopenblas-dev: cblas.h and
// -lopenblas) through cgo. OpenBLAS is pinned to one thread per call: the
// engine already runs envs, gradient chunks and whole refinements in
// parallel, and a second layer of threads would only fight the first. A
// build with the tag noblas uses a pure-Go sgemm and Go loops instead (no
// cgo, no OpenBLAS; several times slower on the networks' shapes).
//
// One cgo call costs about 0.1 µs, against about 7 µs of arithmetic for a
// 64×64×64 product and 1 to 12 µs for a minibatch's element-wise kernels,
// so calling through cgo per product and per kernel is not in the way.
package blas

import "fmt"

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or its transpose (transA, transB): op(A) is
// m×k, op(B) is k×n and C is m×n, with leading dimensions (row strides)
// lda, ldb and ldc. With beta = 0, C need not be initialised (NaN in it
// does not leak through). It panics when a buffer is too short for its
// shape, as a slice index out of range would.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	check("A", a, ar, ac, lda)
	check("B", b, br, bc, ldb)
	check("C", c, m, n, ldc)
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// check panics when x cannot hold a rows×cols matrix with row stride ld.
func check(name string, x []float32, rows, cols, ld int) {
	if rows < 0 || cols < 0 || ld < max(cols, 1) || (rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols) {
		panic(fmt.Sprintf("blas: %s is %d values, too short for %d×%d with stride %d", name, len(x), rows, cols, ld))
	}
}
