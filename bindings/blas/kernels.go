package blas

import (
	"fmt"
	"math"
)

// The element-wise kernels below are the rest of the native networks' hot
// loops: after the matrix products, tanh, its derivative and Adam are where
// a PPO update spends its time. The default build runs them as C loops that
// the compiler vectorises (AVX-512, AVX2 or SSE2, chosen at load time on
// x86-64); the noblas build runs the Go loops of this file. Both do the
// same IEEE operations in the same order on every element (no fused
// multiply-adds, no reassociation; SumSquares fixes its summation order),
// so the two builds agree bit for bit, which kernels_test.go checks.

// Tanh replaces every x in z by tanh(x), within a few float32 ulps
// (relative error below 3e-7). It evaluates in float64 the odd rational
// minimax approximation of degree 13/6 that Eigen and XLA use for float32
// tanh (the numerator by Estrin's scheme, for a shorter dependency chain).
// Eigen clamps the argument at ±7.905, which leaves saturated units at
// ±0.99999976; evaluated in float64 the rational stays accurate up to ±9,
// where float32 tanh rounds to ±1, so the clamp is placed there and
// saturated units get act' = 1-h² = 0 as with an exact tanh. NaN stays NaN.
func Tanh(z []float32) {
	if len(z) > 0 {
		tanhKernel(z)
	}
}

// TanhGrad multiplies every dh[i] by 1 - h[i]², tanh's derivative written
// with its output h, in float32. It panics when h is shorter than dh.
func TanhGrad(dh, h []float32) {
	if len(h) < len(dh) {
		panic(fmt.Sprintf("blas: TanhGrad: h has %d values, dh %d", len(h), len(dh)))
	}
	if len(dh) > 0 {
		tanhGradKernel(dh, h[:len(dh)])
	}
}

// ColSums sets s[j] to the sum over rows i of m[i·cols + j], for j <
// cols, in float32, adding the rows in order to 0. It panics when s or m
// is too short.
func ColSums(s, m []float32, rows, cols int) {
	if len(s) < cols || rows < 0 || len(m) < rows*cols {
		panic(fmt.Sprintf("blas: ColSums: %d×%d sums of %d values into %d", rows, cols, len(m), len(s)))
	}
	if cols > 0 {
		colSumsKernel(s[:cols], m[:rows*cols], rows)
	}
}

// Add sets dst[i] += src[i] in float32. It panics when src is shorter.
func Add(dst, src []float32) {
	if len(src) < len(dst) {
		panic(fmt.Sprintf("blas: Add: src has %d values, dst %d", len(src), len(dst)))
	}
	if len(dst) > 0 {
		addKernel(dst, src[:len(dst)])
	}
}

// ReLU replaces every x in z that is <= 0 by 0 (+0); NaN stays NaN, as
// gorgonia's z·(z > 0) mask leaves it.
func ReLU(z []float32) {
	if len(z) > 0 {
		reluKernel(z)
	}
}

// ReLUGrad zeroes dh[i] wherever the ReLU output h[i] is not positive
// (ReLU's derivative, 0 at 0 as in PyTorch; a NaN output passes no
// gradient). It panics when h is shorter than dh.
func ReLUGrad(dh, h []float32) {
	if len(h) < len(dh) {
		panic(fmt.Sprintf("blas: ReLUGrad: h has %d values, dh %d", len(h), len(dh)))
	}
	if len(dh) > 0 {
		reluGradKernel(dh, h[:len(dh)])
	}
}

// sumLanes is SumSquares' number of partial sums.
const sumLanes = 8

// SumSquares returns Σ x² accumulated in float64. Element i goes to partial
// sum i mod 8 (the elements past the last multiple of 8 to a ninth, in
// order); the partial sums are then added pairwise,
// ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)), and the ninth last.
func SumSquares(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	return sumSquaresKernel(x)
}

// AdamCoefs are the constants of one Adam step, in float64: Scale
// multiplies each gradient first (gradient clipping's coefficient, 1 for
// none), Beta1, Beta2 and Eps are Adam's, StepSize is lr/(1-β1^t) and
// SqrtBC2 is sqrt(1-β2^t).
type AdamCoefs struct {
	Scale, Beta1, Beta2, Eps, StepSize, SqrtBC2 float64
}

// Adam applies one Adam step to the parameters p, with gradients g and
// moments m and v (all the same length; it panics otherwise). Per element,
// in float64 and stored as float32:
//
//	g = Scale·g                      (written back: the clipped gradient)
//	m = β1·m + (1-β1)·g
//	v = β2·v + (1-β2)·g²
//	p = p - StepSize·m / (sqrt(v)/SqrtBC2 + Eps)
func Adam(p, g, m, v []float32, k AdamCoefs) {
	if len(g) != len(p) || len(m) != len(p) || len(v) != len(p) {
		panic(fmt.Sprintf("blas: Adam: lengths p %d, g %d, m %d, v %d differ", len(p), len(g), len(m), len(v)))
	}
	if len(p) > 0 {
		adamKernel(p, g, m, v, k)
	}
}

// The Go loops: the noblas build's kernels and the C kernels' reference.

func tanhGo(z []float32) {
	const clampAt = 9
	for i, xf := range z {
		x := float64(xf)
		if x > clampAt {
			x = clampAt
		} else if x < -clampAt {
			x = -clampAt
		}
		s := x * x
		s2 := s * s
		s4 := s2 * s2
		p := (4.89352455891786e-03 + 6.37261928875436e-04*s) + s2*(1.48572235717979e-05+5.12229709037114e-08*s) +
			s4*((-8.60467152213735e-11+2.00018790482477e-13*s)+s2*-2.76076847742355e-16)
		q := (4.89352518554385e-03 + 2.26843463243900e-03*s) + s2*(1.18534705686654e-04+1.19825839466702e-06*s)
		z[i] = float32(x * p / q)
	}
}

func tanhGradGo(dh, h []float32) {
	h = h[:len(dh)]
	for i, y := range h {
		dh[i] *= 1 - y*y
	}
}

func reluGo(z []float32) {
	for i, v := range z {
		if v <= 0 {
			z[i] = 0
		}
	}
}

func reluGradGo(dh, h []float32) {
	h = h[:len(dh)]
	for i, y := range h {
		if !(y > 0) {
			dh[i] = 0
		}
	}
}

func colSumsGo(s, m []float32, rows int) {
	clear(s)
	cols := len(s)
	for i := 0; i < rows; i++ {
		row := m[i*cols : i*cols+cols]
		row = row[:len(s)]
		for j, v := range row {
			s[j] += v
		}
	}
}

func addGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

func sumSquaresGo(x []float32) float64 {
	var s [sumLanes]float64
	n := len(x) / sumLanes * sumLanes
	for i := 0; i < n; i += sumLanes {
		for j := range s {
			v := float64(x[i+j])
			s[j] += v * v
		}
	}
	var tail float64
	for _, v := range x[n:] {
		tail += float64(v) * float64(v)
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail
}

func adamGo(p, g, m, v []float32, k AdamCoefs) {
	c1, c2 := 1-k.Beta1, 1-k.Beta2
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for j := range p {
		gs := float32(float64(g[j]) * k.Scale)
		g[j] = gs
		gj := float64(gs)
		mj := k.Beta1*float64(m[j]) + c1*gj
		vj := k.Beta2*float64(v[j]) + c2*gj*gj
		m[j], v[j] = float32(mj), float32(vj)
		p[j] = float32(float64(p[j]) - k.StepSize*mj/(math.Sqrt(vj)/k.SqrtBC2+k.Eps))
	}
}
