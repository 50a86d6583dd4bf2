package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ultra-rl/ultra/bindings/blas"
)

// This file is the native backend's Nature-CNN (CleanRL's ppo_atari
// actor-critic, described in cnn.go): the same parameters, names, shapes,
// initialisation and loss as the gorgonia CNN, computed with im2col and
// one sgemm per layer through the BLAS seam, and no gorgonia on the hot
// path. Gorgonia stays the reference the tests compare against.
//
// Layout. The observation is channel-first [C, H, W] (NCHW per batch);
// every convolution writes its ReLU'd output as an [n·oh·ow, out] matrix —
// NHWC, channel last — which is what the im2col of the next layer reads (a
// layer's im2col takes strides, so it reads NCHW and NHWC alike). The
// flatten before the 512-unit layer is PyTorch's channel-major order, so
// the last conv's NHWC output is transposed into [n, out·oh·ow] there.
// im2col's column order is (channel, ky, kx), matching the [out, in, k, k]
// weight flattened to [out, in·k·k].
//
//	conv:    Z = col·Wᵀ + b, ReLU        col [n·oh·ow, in·k·k]
//	         dW = dZᵀ·col, db = Σ rows dZ, dcol = dZ·W → col2im (added up)
//	linear:  as the MLP's (linear, the same sgemm layout)
//
// The gradient of the observation is never formed (conv 1's dcol is
// skipped).

// cnnGradChunkRows bounds the rows of one Grad chunk for the CNN: its
// activations take about 700 KB per sample, so chunks are smaller than
// the MLP's. Forward splits batches of cnnFwdParallelRows or more into
// chunks of cnnFwdChunkRows, so that acting in 8 envs uses both cores.
const (
	cnnGradChunkRows   = 32
	cnnFwdParallelRows = 8
	cnnFwdChunkRows    = 4
)

// convLayer is one valid convolution of the torso.
type convLayer struct {
	in, out, k, stride int
	ih, iw, oh, ow     int
	wOff, bOff         int
	w, b               []float32 // [out, in·k·k] and [out]
	// hwc: the input is NHWC (every layer after the first), so the
	// patches are gathered in (ky, kx, channel) order, k·in contiguous
	// values per kernel row, and multiplied by wk, w in that order.
	hwc bool
	wk  []float32 // [out, k·k·in], w permuted by refresh (hwc layers)
}

// nativeCNN is the torso (three convolutions, the 512-unit Linear) and the
// two heads.
type nativeCNN struct {
	conv                [len(cnnConvs)]convLayer
	flat                int // out·oh·ow of the last convolution
	fc, actor, critic   nlayer
	inC, inH, inW, cols int // the observation's layout; cols = the largest in·k·k
}

// cnnWork is one worker's CNN scratch for up to rows rows.
type cnnWork struct {
	rows  int
	col   [len(cnnConvs)][]float32 // im2col of each layer's input
	act   [len(cnnConvs)][]float32 // each convolution's output, NHWC
	flat  []float32                // [rows, flat], channel-major
	hid   []float32                // [rows, 512]
	dHid  []float32                // [rows, 512]
	dFlat []float32                // [rows, flat]
	dAct  [2][]float32             // ping-pong NHWC gradients
	dCol  []float32                // dcol of layers 2 and 3
	dWk   []float32                // an hwc layer's dW in wk's order
}

// layoutCNN adds the CNN's parameters in CleanRL's order (see addCNN) and
// returns the network; the views into pflat are set by bindCNN.
func layoutCNN(spec Spec, add func(name string, shape ...int) int) *nativeCNN {
	n := &nativeCNN{inC: spec.Image[0], inH: spec.Image[1], inW: spec.Image[2]}
	c, h, w := n.inC, n.inH, n.inW
	for i, cv := range cnnConvs {
		l := &n.conv[i]
		l.in, l.out, l.k, l.stride, l.ih, l.iw, l.hwc = c, cv.out, cv.kernel, cv.stride, h, w, i > 0
		l.oh, l.ow = convOut(h, cv.kernel, cv.stride), convOut(w, cv.kernel, cv.stride)
		l.wOff = add(fmt.Sprintf("torso.%d.weight", 2*i), cv.out, c, cv.kernel, cv.kernel)
		l.bOff = add(fmt.Sprintf("torso.%d.bias", 2*i), cv.out)
		n.cols = max(n.cols, c*cv.kernel*cv.kernel)
		c, h, w = cv.out, l.oh, l.ow
	}
	n.flat = c * h * w
	fcIdx := 2*len(cnnConvs) + 1
	n.fc = nlayer{in: n.flat, out: cnnHidden, wOff: add(fmt.Sprintf("torso.%d.weight", fcIdx), cnnHidden, n.flat), bOff: add(fmt.Sprintf("torso.%d.bias", fcIdx), cnnHidden)}
	n.actor = nlayer{in: cnnHidden, out: spec.ActDim, wOff: add("actor.weight", spec.ActDim, cnnHidden), bOff: add("actor.bias", spec.ActDim)}
	n.critic = nlayer{in: cnnHidden, out: 1, wOff: add("critic.weight", 1, cnnHidden), bOff: add("critic.bias", 1)}
	return n
}

// bind points the layers at pflat and initialises them exactly as the
// gorgonia CNN: the same generator consumed by the convolutions, the
// 512-unit layer, the actor (gain 0.01) and the critic (gain 1); biases 0.
func (n *nativeCNN) bind(pflat []float32, rng *rand.Rand) {
	for i := range n.conv {
		l := &n.conv[i]
		kk := l.in * l.k * l.k
		l.w, l.b = pflat[l.wOff:l.wOff+l.out*kk], pflat[l.bOff:l.bOff+l.out]
		copy(l.w, Orthogonal(l.out, kk, math.Sqrt2, rng))
		if l.hwc {
			l.wk = make([]float32, len(l.w))
		}
	}
	for _, x := range []struct {
		ly   *nlayer
		gain float64
	}{{&n.fc, math.Sqrt2}, {&n.actor, 0.01}, {&n.critic, 1}} {
		x.ly.w, x.ly.b = pflat[x.ly.wOff:x.ly.wOff+x.ly.out*x.ly.in], pflat[x.ly.bOff:x.ly.bOff+x.ly.out]
		copy(x.ly.w, Orthogonal(x.ly.out, x.ly.in, x.gain, rng))
	}
}

// refresh copies each hwc layer's weights into wk, in the (ky, kx,
// channel) order of its patches. Forward and Grad call it before the
// workers start, since the parameters may have changed since (Step,
// SetParams, or a write through Params).
func (n *nativeCNN) refresh() {
	for i := range n.conv {
		l := &n.conv[i]
		if l.hwc {
			permuteKernels(l.wk, l.w, l.out, l.in, l.k, false)
		}
	}
}

// permuteKernels converts out filters of in channels and k×k taps between
// PyTorch's order [out][in][ky][kx] (pt) and the patches' order
// [out][ky][kx][in] (hw): hw from pt, or pt from hw when back is set.
func permuteKernels(hw, pt []float32, out, in, k int, back bool) {
	kk := k * k
	for o := 0; o < out; o++ {
		h, p := hw[o*in*kk:(o+1)*in*kk], pt[o*in*kk:(o+1)*in*kk]
		for c := 0; c < in; c++ {
			for t := 0; t < kk; t++ {
				if back {
					p[c*kk+t] = h[t*in+c]
				} else {
					h[t*in+c] = p[c*kk+t]
				}
			}
		}
	}
}

// ensure sizes w for rows rows.
func (n *nativeCNN) ensure(w *cnnWork, rows int) {
	if w.rows >= rows {
		return
	}
	w.rows = rows
	maxAct := 0
	for i := range n.conv {
		l := &n.conv[i]
		w.col[i] = make([]float32, rows*l.oh*l.ow*l.in*l.k*l.k)
		w.act[i] = make([]float32, rows*l.oh*l.ow*l.out)
		maxAct = max(maxAct, l.oh*l.ow*l.out)
	}
	w.flat, w.dFlat = make([]float32, rows*n.flat), make([]float32, rows*n.flat)
	w.hid, w.dHid = make([]float32, rows*cnnHidden), make([]float32, rows*cnnHidden)
	w.dAct[0], w.dAct[1] = make([]float32, rows*maxAct), make([]float32, rows*maxAct)
	dcol, dwk := 0, 0
	for i := 1; i < len(n.conv); i++ { // the hwc layers
		l := &n.conv[i]
		dcol = max(dcol, l.oh*l.ow*l.in*l.k*l.k)
		dwk = max(dwk, l.out*l.in*l.k*l.k)
	}
	w.dCol = make([]float32, rows*dcol)
	w.dWk = make([]float32, dwk)
}

// im2col writes, for r NCHW images ([r, in, ih, iw], the observation),
// the k×k patches at stride s into col ([r·oh·ow, in·k·k], columns in
// (channel, ky, kx) order): each kernel row of a patch is k contiguous
// input values, copied at once.
func im2col(col, x []float32, r int, l *convLayer) {
	kk := l.k * l.k
	cols := l.in * kk
	plane := l.ih * l.iw
	row := 0
	for i := 0; i < r; i++ {
		img := x[i*l.in*plane : (i+1)*l.in*plane]
		for oy := 0; oy < l.oh; oy++ {
			for ox := 0; ox < l.ow; ox++ {
				dst := col[row*cols : row*cols+cols]
				base := oy*l.stride*l.iw + ox*l.stride
				for c := 0; c < l.in; c++ {
					for ky := 0; ky < l.k; ky++ {
						src := c*plane + base + ky*l.iw
						copy(dst[c*kk+ky*l.k:c*kk+ky*l.k+l.k], img[src:src+l.k])
					}
				}
				row++
			}
		}
	}
}

// im2colHWC is im2col for an NHWC input ([r, ih, iw, in]) with columns in
// (ky, kx, channel) order: each kernel row of a patch is k·in contiguous
// input values, copied at once.
func im2colHWC(col, x []float32, r int, l *convLayer) {
	run := l.k * l.in // one kernel row of a patch
	cols := l.k * run
	sy := l.iw * l.in
	row := 0
	for i := 0; i < r; i++ {
		img := x[i*l.ih*sy : (i+1)*l.ih*sy]
		for oy := 0; oy < l.oh; oy++ {
			for ox := 0; ox < l.ow; ox++ {
				dst := col[row*cols : row*cols+cols]
				base := oy*l.stride*sy + ox*l.stride*l.in
				for ky := 0; ky < l.k; ky++ {
					copy(dst[ky*run:ky*run+run], img[base+ky*sy:base+ky*sy+run])
				}
				row++
			}
		}
	}
}

// col2imHWC adds the patch gradients dcol (im2colHWC's layout) back onto
// dx ([r, ih, iw, in]), the inverse scatter of im2colHWC; dx is
// overwritten.
func col2imHWC(dx, dcol []float32, r int, l *convLayer) {
	dx = dx[:r*l.ih*l.iw*l.in]
	clear(dx)
	run := l.k * l.in
	cols := l.k * run
	sy := l.iw * l.in
	row := 0
	for i := 0; i < r; i++ {
		img := dx[i*l.ih*sy : (i+1)*l.ih*sy]
		for oy := 0; oy < l.oh; oy++ {
			for ox := 0; ox < l.ow; ox++ {
				src := dcol[row*cols : row*cols+cols]
				base := oy*l.stride*sy + ox*l.stride*l.in
				for ky := 0; ky < l.k; ky++ {
					d := img[base+ky*sy : base+ky*sy+run]
					for t, v := range src[ky*run : ky*run+run] {
						d[t] += v
					}
				}
				row++
			}
		}
	}
}

// forward runs r observations (NCHW) through the CNN, keeping every
// activation in w, and writes the logits into pol ([r, ActDim]) and the
// values into val ([r]).
func (n *nativeCNN) forward(w *cnnWork, x []float32, r int, pol, val []float32) {
	for i := range n.conv {
		l := &n.conv[i]
		wt := l.w
		if l.hwc { // the previous convolution's output, NHWC
			im2colHWC(w.col[i], w.act[i-1], r, l)
			wt = l.wk
		} else { // the observation, NCHW
			im2col(w.col[0], x, r, l)
		}
		rows, kk := r*l.oh*l.ow, l.in*l.k*l.k
		z := w.act[i][:rows*l.out]
		for j := 0; j < rows; j++ {
			copy(z[j*l.out:j*l.out+l.out], l.b)
		}
		blas.Sgemm(false, true, rows, l.out, kk, 1, w.col[i], kk, wt, kk, 1, z, l.out)
		blas.ReLU(z)
	}
	// Flatten channel-major: flat[i][c·hw + p] = act[i][p][c].
	last := &n.conv[len(n.conv)-1]
	hw := last.oh * last.ow
	for i := 0; i < r; i++ {
		a := w.act[len(n.conv)-1][i*hw*last.out : (i+1)*hw*last.out]
		f := w.flat[i*n.flat : (i+1)*n.flat]
		for p := 0; p < hw; p++ {
			for c := 0; c < last.out; c++ {
				f[c*hw+p] = a[p*last.out+c]
			}
		}
	}
	hid := w.hid[:r*cnnHidden]
	linear(hid, w.flat, n.fc.w, n.fc.b, r, cnnHidden, n.flat)
	blas.ReLU(hid)
	linear(pol, hid, n.actor.w, n.actor.b, r, n.actor.out, cnnHidden)
	linear(val, hid, n.critic.w, n.critic.b, r, 1, cnnHidden)
}

// backward back-propagates the heads' gradients dPol ([r, ActDim]) and dV
// ([r]) through the CNN of the last forward on w, writing every parameter
// gradient into g.
func (n *nativeCNN) backward(w *cnnWork, x []float32, r int, dPol, dV []float32, g []float32) {
	A := n.actor.out
	// Heads: dW = dZᵀ·hid, db = Σ dZ; dHid = dPol·Wa + dV·Wc, masked by ReLU.
	hid := w.hid[:r*cnnHidden]
	dHid := w.dHid[:r*cnnHidden]
	for _, h := range []struct {
		ly *nlayer
		dz []float32
	}{{&n.actor, dPol[:r*A]}, {&n.critic, dV[:r]}} {
		ly := h.ly
		blas.Sgemm(true, false, ly.out, cnnHidden, r, 1, h.dz, ly.out, hid, cnnHidden, 0, g[ly.wOff:ly.wOff+ly.out*cnnHidden], cnnHidden)
		blas.ColSums(g[ly.bOff:ly.bOff+ly.out], h.dz, r, ly.out)
	}
	blas.Sgemm(false, false, r, cnnHidden, A, 1, dPol, A, n.actor.w, cnnHidden, 0, dHid, cnnHidden)
	blas.Sgemm(false, false, r, cnnHidden, 1, 1, dV, 1, n.critic.w, cnnHidden, 1, dHid, cnnHidden)
	blas.ReLUGrad(dHid, hid)
	// The 512-unit layer.
	blas.Sgemm(true, false, cnnHidden, n.flat, r, 1, dHid, cnnHidden, w.flat, n.flat, 0, g[n.fc.wOff:n.fc.wOff+cnnHidden*n.flat], n.flat)
	blas.ColSums(g[n.fc.bOff:n.fc.bOff+cnnHidden], dHid, r, cnnHidden)
	dFlat := w.dFlat[:r*n.flat]
	blas.Sgemm(false, false, r, n.flat, cnnHidden, 1, dHid, cnnHidden, n.fc.w, n.flat, 0, dFlat, n.flat)
	// Un-flatten to the last convolution's NHWC layout, masked by its ReLU.
	li := len(n.conv) - 1
	last := &n.conv[li]
	hw := last.oh * last.ow
	dz := w.dAct[0][:r*hw*last.out]
	for i := 0; i < r; i++ {
		f := dFlat[i*n.flat : (i+1)*n.flat]
		d := dz[i*hw*last.out : (i+1)*hw*last.out]
		for p := 0; p < hw; p++ {
			for c := 0; c < last.out; c++ {
				d[p*last.out+c] = f[c*hw+p]
			}
		}
	}
	blas.ReLUGrad(dz, w.act[li][:len(dz)])
	// Convolutions, last to first.
	for i := li; i >= 0; i-- {
		l := &n.conv[i]
		rows, kk := r*l.oh*l.ow, l.in*l.k*l.k
		gw := g[l.wOff : l.wOff+l.out*kk]
		if l.hwc { // dW in the patches' order, then back to PyTorch's
			dWk := w.dWk[:l.out*kk]
			blas.Sgemm(true, false, l.out, kk, rows, 1, dz, l.out, w.col[i], kk, 0, dWk, kk)
			permuteKernels(dWk, gw, l.out, l.in, l.k, true)
		} else {
			blas.Sgemm(true, false, l.out, kk, rows, 1, dz, l.out, w.col[i], kk, 0, gw, kk)
		}
		blas.ColSums(g[l.bOff:l.bOff+l.out], dz, rows, l.out)
		if i == 0 {
			return // no gradient for the observation
		}
		dCol := w.dCol[:rows*kk]
		blas.Sgemm(false, false, rows, kk, l.out, 1, dz, l.out, l.wk, kk, 0, dCol, kk)
		below := w.dAct[(li-i+1)%2]
		col2imHWC(below, dCol, r, l)
		dz = below[:r*l.ih*l.iw*l.in]
		blas.ReLUGrad(dz, w.act[i-1][:len(dz)])
	}
}
