package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file adds the Nature-CNN actor-critic of CleanRL's ppo_atari.py to
// the gorgonia backend; [NewGorgonia] builds it when Spec.Image is set.
//
//	torso:  Conv2d(C, 32, 8, stride 4) -> ReLU -> Conv2d(32, 64, 4, stride 2)
//	        -> ReLU -> Conv2d(64, 64, 3, stride 1) -> ReLU -> Flatten
//	        -> Linear(64*h*w, 512) -> ReLU
//	actor:  Linear(512, ActDim)  (logits)
//	critic: Linear(512, 1)
//
// The torso is shared by the two heads (one network, as in CleanRL's Agent).
// Parameters are named after the nn.Sequential indices of CleanRL's
// Agent.network ("torso.0.weight", "torso.2.*", "torso.4.*", "torso.7.*")
// and "actor.weight", "actor.bias", "critic.weight", "critic.bias", in that
// order. Conv weights have the PyTorch shape [out, in, kh, kw]; they are
// initialised like layer_init: orthogonal over the flattened
// [out, in*kh*kw] matrix with gain sqrt(2), like the 512-unit Linear; the
// actor head gets gain 0.01 and the critic gain 1; biases are zero.
//
// Scaling. CleanRL feeds uint8 frames and divides by 255 inside the network
// (x / 255.0). Observations here are expected to be already scaled to
// [0, 1] (pong-pixels produces them that way), so the network has no
// scaling step; feeding raw 0..255 values would give a network 255 times
// more sensitive than CleanRL's.
//
// Graph layout. The input is an [n, C, H, W] (NCHW) tensor, filled with the
// caller's row-major observations as is. Each convolution is gorgonia's
// Im2Col followed by a matrix product, the same decomposition G.Conv2d
// uses, but with the bias added and the ReLU applied while the activations
// are still the [n*oh*ow, out] matrix (the bias is a rank-1 product
// ones·bᵀ, as for the MLPs, so no broadcasting op is needed); the result
// is then reshaped to [n, oh, ow, out] and transposed to NCHW for the next
// Im2Col. The flattened torso output [n, 64*h*w] (PyTorch's channel-major
// flatten order) is transposed once to the feature-major [features, n]
// layout the MLP code uses, so the heads and the PPO loss graph are shared
// with the MLP backend unchanged.

// cnnConv describes one convolution of the torso (valid padding).
type cnnConv struct{ out, kernel, stride int }

// cnnConvs is the Nature-CNN convolution stack.
var cnnConvs = [...]cnnConv{{32, 8, 4}, {64, 4, 2}, {64, 3, 1}}

// Conv describes one convolution of the Nature-CNN's torso (valid
// padding, square kernels): what exporters of the network need beyond the
// parameters' shapes.
type Conv struct{ Out, Kernel, Stride int }

// CNNConvs returns the Nature-CNN's convolutions in order; their parameters
// are "torso.0.*", "torso.2.*", …, and the Linear after them is
// "torso.<2·len>+1.*" (CleanRL's nn.Sequential indices).
func CNNConvs() []Conv {
	out := make([]Conv, len(cnnConvs))
	for i, c := range cnnConvs {
		out[i] = Conv{Out: c.out, Kernel: c.kernel, Stride: c.stride}
	}
	return out
}

// cnnHidden is the width of the Linear layer after the convolutions.
const cnnHidden = 512

// cnnRefs indexes the torso parameters in gorgoniaBackend.params; the heads
// are gorgoniaBackend.policy[0] and value[0].
type cnnRefs struct {
	conv [len(cnnConvs)]layerRef // weight gshape [out, in*k*k], bias [1, out]
	fc   layerRef                // weight [512, flat], bias [512, 1]
}

// convOut returns the output side of a valid convolution.
func convOut(side, kernel, stride int) int { return (side-kernel)/stride + 1 }

// addCNN creates and initialises the CNN parameters in CleanRL's order.
func (b *gorgoniaBackend) addCNN(rng *rand.Rand) {
	c, h, w := b.spec.Image[0], b.spec.Image[1], b.spec.Image[2]
	refs := &cnnRefs{}
	in := c
	for i, cv := range cnnConvs {
		k := in * cv.kernel * cv.kernel
		idx := 2 * i // Conv2d, ReLU, Conv2d, ReLU, ...
		wi := b.addParam(fmt.Sprintf("torso.%d.weight", idx), []int{cv.out, in, cv.kernel, cv.kernel}, tensor.Shape{cv.out, k})
		copy(b.params[wi].data, Orthogonal(cv.out, k, math.Sqrt2, rng))
		bi := b.addParam(fmt.Sprintf("torso.%d.bias", idx), []int{cv.out}, tensor.Shape{1, cv.out})
		refs.conv[i] = layerRef{w: wi, b: bi}
		h, w, in = convOut(h, cv.kernel, cv.stride), convOut(w, cv.kernel, cv.stride), cv.out
	}
	flat := in * h * w
	fcIdx := 2*len(cnnConvs) + 1 // after the last ReLU and the Flatten
	wi := b.addParam(fmt.Sprintf("torso.%d.weight", fcIdx), []int{cnnHidden, flat}, tensor.Shape{cnnHidden, flat})
	copy(b.params[wi].data, Orthogonal(cnnHidden, flat, math.Sqrt2, rng))
	bi := b.addParam(fmt.Sprintf("torso.%d.bias", fcIdx), []int{cnnHidden}, tensor.Shape{cnnHidden, 1})
	refs.fc = layerRef{w: wi, b: bi}
	b.cnn = refs
	b.policy = []layerRef{b.addLinear("actor", b.spec.ActDim, cnnHidden, 0.01, rng)}
	b.value = []layerRef{b.addLinear("critic", 1, cnnHidden, 1, rng)}
}

// addLinear appends one orthogonally initialised Linear layer named
// prefix.weight / prefix.bias.
func (b *gorgoniaBackend) addLinear(prefix string, out, in int, gain float64, rng *rand.Rand) layerRef {
	wi := b.addParam(prefix+".weight", []int{out, in}, tensor.Shape{out, in})
	copy(b.params[wi].data, Orthogonal(out, in, gain, rng))
	bi := b.addParam(prefix+".bias", []int{out}, tensor.Shape{out, 1})
	return layerRef{w: wi, b: bi}
}

// relu is x ⊙ (x > 0) with the mask treated as a constant (derivative 0 at
// exactly 0, as torch); see buildMLP.
func relu(ng *netGraph, x *G.Node) *G.Node {
	return must(G.HadamardProd(x, must(G.Gt(x, ng.zero, true))))
}

// onesInput adds a constant [rows, 1] column of ones.
func onesInput(g *G.ExprGraph, name string, rows int) *G.Node {
	buf := make([]float32, rows)
	fill(buf, 1)
	return G.NewMatrix(g, G.Float32, G.WithShape(rows, 1), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(rows, 1), tensor.WithBacking(buf))))
}

// buildCNN adds the image input, the torso and both heads to ng for batch
// size n, setting ng.x, ng.head ([ActDim, n] logits) and ng.vrow ([1, n]).
func (b *gorgoniaBackend) buildCNN(ng *netGraph, n int) {
	c, h, w := b.spec.Image[0], b.spec.Image[1], b.spec.Image[2]
	g := ng.g
	ng.x = G.NewTensor(g, G.Float32, 4, G.WithShape(n, c, h, w), G.WithName("obs"),
		G.WithValue(tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(ng.xbuf))))
	x := ng.x
	in := c
	for i, cv := range cnnConvs {
		lr := b.cnn.conv[i]
		oh, ow := convOut(h, cv.kernel, cv.stride), convOut(w, cv.kernel, cv.stride)
		rows, k := n*oh*ow, in*cv.kernel*cv.kernel
		col := must(G.Im2Col(x, tensor.Shape{cv.kernel, cv.kernel}, tensor.Shape{0, 0},
			tensor.Shape{cv.stride, cv.stride}, tensor.Shape{1, 1})) // [n, oh, ow, in*k*k]
		col = must(G.Reshape(col, tensor.Shape{rows, k}))
		z := must(G.Mul(col, must(G.Transpose(ng.params[lr.w])))) // [rows, out]
		ones := onesInput(g, fmt.Sprintf("ones_conv%d", i), rows)
		z = must(G.Add(z, must(G.Mul(ones, ng.params[lr.b]))))
		z = relu(ng, z)
		z = must(G.Reshape(z, tensor.Shape{n, oh, ow, cv.out}))
		x = must(G.Transpose(z, 0, 3, 1, 2)) // [n, out, oh, ow]
		h, w, in = oh, ow, cv.out
	}
	flat := must(G.Reshape(x, tensor.Shape{n, in * h * w}))
	feat := must(G.Transpose(flat)) // [flat, n]
	z := must(G.Mul(ng.params[b.cnn.fc.w], feat))
	z = must(G.Add(z, must(G.Mul(ng.params[b.cnn.fc.b], ng.ones))))
	hid := relu(ng, z) // [512, n]
	head := func(lr layerRef) *G.Node {
		z := must(G.Mul(ng.params[lr.w], hid))
		return must(G.Add(z, must(G.Mul(ng.params[lr.b], ng.ones))))
	}
	ng.head = head(b.policy[0])
	ng.vrow = head(b.value[0])
}
