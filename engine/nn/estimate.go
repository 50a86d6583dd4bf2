package nn

import (
	"fmt"

	"github.com/ultra-rl/ultra/internal/memlimit"
)

// NumParams is the number of parameters a network of s has (both nets and
// the log-std), computed from the layout without building it; absurd sizes
// saturate instead of overflowing.
func (s Spec) NumParams() int64 {
	s = s.withDefaults()
	linear := func(in, out int64) int64 { return memlimit.SatAdd(memlimit.SatMul(in, out), out) }
	if s.IsImage() {
		c, h, w := int64(s.Image[0]), s.Image[1], s.Image[2]
		var p int64
		for _, cv := range cnnConvs {
			p = memlimit.SatAdd(p, linear(c*int64(cv.kernel*cv.kernel), int64(cv.out)))
			c, h, w = int64(cv.out), convOut(h, cv.kernel, cv.stride), convOut(w, cv.kernel, cv.stride)
		}
		p = memlimit.SatAdd(p, linear(c*int64(h)*int64(w), cnnHidden))
		return memlimit.SatAdd(p, linear(cnnHidden, int64(s.ActDim))+linear(cnnHidden, 1))
	}
	mlp := func(out int) int64 {
		var p int64
		in := int64(s.ObsDim)
		for _, h := range s.Hidden {
			p = memlimit.SatAdd(p, linear(in, int64(h)))
			in = int64(h)
		}
		return memlimit.SatAdd(p, linear(in, int64(out)))
	}
	p := memlimit.SatAdd(mlp(s.ActDim), mlp(1))
	if !s.Discrete {
		p = memlimit.SatAdd(p, int64(s.ActDim))
	}
	return p
}

// activationsPerSample is the number of float32 activations one sample
// keeps through a forward and backward pass: every layer's output and, for
// the CNN, each convolution's unfolded (im2col) input.
func (s Spec) activationsPerSample() int64 {
	s = s.withDefaults()
	if s.IsImage() {
		c, h, w := int64(s.Image[0]), s.Image[1], s.Image[2]
		var a int64
		for _, cv := range cnnConvs {
			oh, ow := int64(convOut(h, cv.kernel, cv.stride)), int64(convOut(w, cv.kernel, cv.stride))
			a += oh*ow*c*int64(cv.kernel*cv.kernel) + oh*ow*int64(cv.out)
			c, h, w = int64(cv.out), int(oh), int(ow)
		}
		return a + cnnHidden + int64(s.ActDim) + 1
	}
	var a int64
	for _, h := range s.Hidden {
		a = memlimit.SatAdd(a, int64(h))
	}
	return memlimit.SatAdd(memlimit.SatMul(a, 2), int64(s.ActDim)+1+int64(s.ObsDim))
}

// Estimate is the memory of training a network of s on minibatches of
// batch samples: parameters, their gradients and Adam's two moments (four
// float32 copies), and each sample's activations and their gradients.
// Backends add bookkeeping on top (gorgonia keeps a graph per batch size),
// so this is a lower bound that is close for the native backend; it exists
// to refuse sizes that cannot fit, not to plan to the byte.
func (s Spec) Estimate(batch int) memlimit.Estimate {
	p := s.NumParams()
	act := memlimit.SatMul(s.activationsPerSample(), int64(max(batch, 1)))
	b := memlimit.SatAdd(memlimit.SatMul(p, 16), memlimit.SatMul(act, 8))
	return memlimit.Estimate{Bytes: b, What: fmt.Sprintf("a network of %d parameters trained on minibatches of %d", p, batch)}
}
