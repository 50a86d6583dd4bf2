//go:build noblas

package blas

// KernelsImpl names the element-wise kernels of this build.
var KernelsImpl = "pure Go (-tags noblas)"

func tanhKernel(z []float32)                       { tanhGo(z) }
func tanhGradKernel(dh, h []float32)               { tanhGradGo(dh, h) }
func sumSquaresKernel(x []float32) float64         { return sumSquaresGo(x) }
func adamKernel(p, g, m, v []float32, k AdamCoefs) { adamGo(p, g, m, v, k) }

func colSumsKernel(s, m []float32, rows int) { colSumsGo(s, m, rows) }

func addKernel(dst, src []float32) { addGo(dst, src) }

func reluKernel(z []float32) { reluGo(z) }

func reluGradKernel(dh, h []float32) { reluGradGo(dh, h) }
