package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/ultra-rl/ultra/bindings/blas"
)

// This file implements Backend in plain Go (CPU, float32), tuned for the
// small MLPs of PPO (obs 11-27, hidden 64-64, minibatches of 64).
//
// Why it exists. gorgonia's TapeMachine allocates every intermediate tensor
// anew on each run (about 2,400 allocations per Grad+Step of the 64-64 PPO
// nets) and runs each program on a fresh goroutine, and its elementwise ops
// go through generic tensor code; for MLPs this small that overhead is of
// the order of the arithmetic, and it dominates small batches (Forward of
// one observation: ~130µs there, ~5µs here). This backend does the same
// maths with hand-written loops over preallocated buffers and allocates
// nothing per Forward, Grad or Step in steady state. The gorgonia backend
// stays the numerical reference: native_test.go checks that both start
// from bit-identical parameters and agree on outputs, losses, gradients and
// multi-step training.
//
// Semantics (identical to [NewGorgonia]). Same parameter names, order,
// shapes and PyTorch [out, in] layout; the same initialisation given the
// same seed (the same generator is consumed in the same order by
// [Orthogonal]); the same loss. Subgradients follow gorgonia's: ReLU's
// derivative is 0 at 0, max(a, b) routes the gradient to a where a >= b and
// to b elsewhere, clamp(x, lo, hi) has derivative 1 on lo <= x <= hi and 0
// outside. Adam and gradient clipping are the shared adamState code.
//
// Layout and kernels. Activations are row-major [rows, width], as the
// caller's buffers, and every matrix product is one sgemm through the BLAS
// seam (bindings/blas: OpenBLAS on one thread, or pure Go with -tags
// noblas), with the transposes as flags rather than copies:
//
//	forward  Z  = H·Wᵀ + b    (each row of Z starts as b)
//	dW          = dZᵀ·H
//	dH          = dZ·W
//
// A forward of fewer than smallRows rows (acting in one or two envs) is a
// Go loop of dot products instead: cheaper than an sgemm's setup there.
// The activations, their derivatives, bias sums and Adam are the seam's
// vectorised element-wise kernels (blas.Tanh, a rational approximation
// accurate to a few float32 ulps, blas.ReLU, blas.Adam and the rest); the
// loss terms are evaluated per sample in float64. Each call is
// deterministic for its shapes; a row's outputs may differ in the last
// bits between batch sizes, since OpenBLAS blocks small and large products
// differently.
//
// Parallelism. Grad splits the batch into min(ceil(N/gradChunkRows),
// maxGradChunks) equal chunks, a function of N alone; each chunk writes its
// own partial gradient and partial sums, which are then reduced in chunk
// order. So results do not depend on GOMAXPROCS or on scheduling, and
// N <= gradChunkRows (the PPO minibatch) is one chunk computed on the
// calling goroutine. Forward rows are independent; n >= fwdParallelRows is
// split into fwdChunkRows chunks. Chunks run on the calling goroutine plus
// up to GOMAXPROCS-1 persistent worker goroutines owned by the backend
// (started on first need, stopped by Close or when the backend is garbage
// collected), so dispatching allocates nothing.

const (
	// gradChunkRows bounds the rows of one Grad chunk, up to
	// maxGradChunks chunks (larger batches get larger chunks).
	gradChunkRows = 256
	maxGradChunks = 64
	// fwdParallelRows is the smallest Forward batch split across workers.
	fwdParallelRows = 256
	// fwdChunkRows is the Forward chunk size when splitting.
	fwdChunkRows = 128
	// maxNativeWorkers caps the goroutines one call uses.
	maxNativeWorkers = 16
	// smallRows is the batch below which linear uses Go dot products
	// instead of an sgemm.
	smallRows = 3
)

// nlayer is one Linear layer: views of its parameters, their offsets (the
// same in pflat and in every flat gradient buffer) and scratch for Wᵀ.
type nlayer struct {
	in, out    int
	w, b       []float32 // live parameters, [out, in] and [out]
	wOff, bOff int       // offsets of the weight and the bias
}

// nparam describes one entry of Params.
type nparam struct {
	name  string
	shape []int
	off   int
	n     int
}

// nativeBackend implements Backend in plain Go; see the file comment.
type nativeBackend struct {
	spec      Spec
	params    []nparam
	pflat     []float32   // all parameters, Params order
	gflat     []float32   // all gradients, Params order
	nets      [2][]nlayer // policy, value (MLP specs)
	cnn       *nativeCNN  // the Nature-CNN (image specs), else nil
	logStd    []float32   // live log_std (nil when Discrete)
	gLSOff    int         // offset of log_std's gradient (-1 when Discrete)
	maxW      int         // widest layer input or output
	optimizer             // pdata/gdata are per-parameter views of pflat/gflat
	hostRollout

	// Per-call scratch, sized on demand and reused.
	work      []*nativeWork    // one per worker
	chunkG    [][]float32      // partial gradients of chunks 1.. (chunk 0 uses gflat)
	chunkRes  []chunkResult    // partial loss sums per chunk
	invStd    []float64        // exp(-log_std) of the current Grad
	lossConst float64          // Σ log_std + ActDim·½log(2π) of the current Grad
	task      nativeTask       // what the workers are doing
	pool      *nativePool      // worker goroutines, nil until needed
	wg        sync.WaitGroup   // counts dispatched jobs
	runFn     func(worker int) // b.runWorker, bound once

	// Demonstrations of the imitation term (imitate.go).
	demoN            int
	demoObs, demoAct []float32
	demoG            []float32 // the term's gradient, Params order
}

// nativeTask describes the chunked work of one Forward or Grad call.
type nativeTask struct {
	grad      bool
	n         int // rows in total
	chunks    int // number of chunks
	chunkRows int // rows per chunk (the last may be shorter)
	workers   int // goroutines taking part, including the caller
	// Forward.
	obs, dist, values []float32
	// Grad.
	batch Batch
	cfg   LossConfig
}

// chunkResult holds the loss sums of one Grad chunk.
type chunkResult struct {
	pg, vloss, ent, kl float64
	clipped            int
}

// nativeWork is the per-worker scratch for up to rows rows.
type nativeWork struct {
	rows int
	nets [2]netWork
	cw   cnnWork   // the CNN's activations (image specs)
	dA   []float32 // [rows, maxW] gradient ping-pong buffers
	dB   []float32
	dV   []float32 // [rows] value-head dZ
	tmp  []float64 // [2·ActDim] per-sample loss scratch
}

// netWork holds the activations of one MLP.
type netWork struct {
	h   [][]float32 // per hidden layer [rows, width], post-activation
	out []float32   // [rows, outDim] head output (Grad only)
}

// NewNative builds the policy and value networks described by spec on the
// plain-Go CPU backend. It has the same parameters, initialisation (equal
// seeds give networks bit-identical to [NewGorgonia]'s), loss and optimizer
// as the gorgonia backend; only the arithmetic differs, at float32 rounding
// level. Zero fields of adam take their defaults.
func NewNative(spec Spec, seed uint64, adam AdamConfig) (Backend, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	adam = adam.withDefaults()
	if err := adam.validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	b := &nativeBackend{spec: spec, gLSOff: -1}

	// Lay out the parameters in Params order: policy MLP, log_std, value MLP.
	total := 0
	add := func(name string, shape ...int) int {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b.params = append(b.params, nparam{name: name, shape: shape, off: total, n: n})
		total += n
		return total - n
	}
	sizesFor := func(outDim int) []int {
		s := append([]int{spec.ObsDim}, spec.Hidden...)
		return append(s, outDim)
	}
	mlp := func(prefix string, outDim int) []nlayer {
		sizes := sizesFor(outDim)
		var layers []nlayer
		for l := 0; l+1 < len(sizes); l++ {
			in, out := sizes[l], sizes[l+1]
			b.maxW = max(b.maxW, in, out)
			w := add(fmt.Sprintf("%s.%d.weight", prefix, 2*l), out, in)
			bias := add(fmt.Sprintf("%s.%d.bias", prefix, 2*l), out)
			layers = append(layers, nlayer{in: in, out: out, wOff: w, bOff: bias})
		}
		return layers
	}
	if spec.IsImage() {
		b.cnn = layoutCNN(spec, add)
	} else {
		b.nets[0] = mlp("policy", spec.ActDim)
		if !spec.Discrete {
			b.gLSOff = add("policy.log_std", spec.ActDim)
		}
		b.nets[1] = mlp("value", 1)
	}

	b.pflat = make([]float32, total)
	b.gflat = make([]float32, total)
	for _, p := range b.params {
		b.pdata = append(b.pdata, b.pflat[p.off:p.off+p.n:p.off+p.n])
		b.gdata = append(b.gdata, b.gflat[p.off:p.off+p.n:p.off+p.n])
		b.names = append(b.names, p.name)
	}
	for k := range b.nets {
		for l := range b.nets[k] {
			ly := &b.nets[k][l]
			ly.w = b.pflat[ly.wOff : ly.wOff+ly.out*ly.in]
			ly.b = b.pflat[ly.bOff : ly.bOff+ly.out]
		}
	}

	// Initialise exactly as NewGorgonia does: the same generator, consumed
	// by the policy layers, then the value layers (or the CNN's layers in
	// CleanRL's order).
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	if b.cnn != nil {
		b.cnn.bind(b.pflat, rng)
	}
	for k, headGain := range [2]float64{0.01, 1} {
		layers := b.nets[k]
		for l, ly := range layers {
			gain := math.Sqrt2
			if l+1 == len(layers) {
				gain = headGain
			}
			copy(ly.w, Orthogonal(ly.out, ly.in, gain, rng))
		}
	}
	if !spec.Discrete {
		b.logStd = b.pflat[b.gLSOff : b.gLSOff+spec.ActDim]
		for i := range b.logStd {
			b.logStd[i] = spec.InitLogStd
		}
	}
	b.opt = newAdamState(adam, b.pdata)
	b.hostRollout = hostRollout{spec: b.spec, grad: b.Grad, closedp: &b.optimizer.closed}
	b.invStd = make([]float64, spec.ActDim)
	b.runFn = b.runWorker
	return b, nil
}

// Spec returns the network description with defaults filled in.
func (b *nativeBackend) Spec() Spec {
	s := b.spec
	s.Hidden = append([]int(nil), s.Hidden...)
	return s
}

// paramList returns Params-shaped entries aliasing bufs.
func (b *nativeBackend) paramList(bufs [][]float32) []Param {
	out := make([]Param, len(b.params))
	for i, p := range b.params {
		out[i] = Param{Name: p.name, Shape: append([]int(nil), p.shape...), Data: bufs[i]}
	}
	return out
}

// Params lists the parameters; Data aliases the live storage.
func (b *nativeBackend) Params() []Param { return b.paramList(b.pdata) }

// Grads lists the stored gradient in Params order; Data aliases it.
func (b *nativeBackend) Grads() []Param { return b.paramList(b.gdata) }

// AdamState returns the Adam moments (aliasing the live state) and step
// count.
func (b *nativeBackend) AdamState() (m, v []Param, t int) {
	return b.paramList(b.opt.m), b.paramList(b.opt.v), b.opt.t
}

// Close stops the worker goroutines; later calls fail.
func (b *nativeBackend) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.pool != nil {
		b.pool.stop()
	}
	return nil
}

// ---------------------------------------------------------------------------
// Forward

// Forward evaluates n observations: dist gets the n*ActDim Gaussian means
// or logits (row-major [n, ActDim]) and values gets the n value estimates.
func (b *nativeBackend) Forward(obs []float32, n int, dist, values []float32) error {
	if err := b.spec.checkForward(b.closed, obs, n, dist, values); err != nil {
		return err
	}
	chunkRows := n
	switch {
	case b.cnn != nil && n >= cnnFwdParallelRows:
		chunkRows = cnnFwdChunkRows
	case b.cnn == nil && n >= fwdParallelRows:
		chunkRows = fwdChunkRows
	}
	if b.cnn != nil {
		b.cnn.refresh()
	}
	b.task = nativeTask{n: n, chunkRows: chunkRows, chunks: (n + chunkRows - 1) / chunkRows,
		obs: obs, dist: dist, values: values}
	b.dispatch()
	b.task = nativeTask{} // drop references to the caller's buffers
	return nil
}

// forwardChunk evaluates rows [r0, r1) of the current Forward task.
func (b *nativeBackend) forwardChunk(ws *nativeWork, r0, r1 int) {
	t, s := &b.task, b.spec
	r := r1 - r0
	x := t.obs[r0*s.ObsDim : r1*s.ObsDim]
	if b.cnn != nil {
		b.cnn.forward(&ws.cw, x, r, t.dist[r0*s.ActDim:r1*s.ActDim], t.values[r0:r1])
		return
	}
	b.mlpForward(ws, 0, x, r, t.dist[r0*s.ActDim:r1*s.ActDim])
	b.mlpForward(ws, 1, x, r, t.values[r0:r1])
}

// mlpForward runs net k on the r rows of x, writing hidden activations into
// ws and the head output into out.
func (b *nativeBackend) mlpForward(ws *nativeWork, k int, x []float32, r int, out []float32) {
	layers := b.nets[k]
	h := x
	relu := b.spec.Activation == ActReLU
	for l := range layers {
		ly := &layers[l]
		if l+1 == len(layers) {
			linear(out, h, ly.w, ly.b, r, ly.out, ly.in)
			return
		}
		z := ws.nets[k].h[l][:r*ly.out]
		linear(z, h, ly.w, ly.b, r, ly.out, ly.in)
		if relu {
			blas.ReLU(z)
		} else {
			blas.Tanh(z)
		}
		h = z
	}
}

// ---------------------------------------------------------------------------
// Grad

// Grad computes the PPO loss over the batch and stores its gradient.
func (b *nativeBackend) Grad(bt Batch, c LossConfig) (LossStats, error) {
	if b.closed {
		return LossStats{}, errors.New("nn: Grad: backend is closed")
	}
	if err := b.spec.checkBatch("Grad", bt, c); err != nil {
		return LossStats{}, err
	}
	s, n := b.spec, bt.N

	// Per-call constants shared read-only by the workers.
	if !s.Discrete {
		b.lossConst = float64(s.ActDim) * halfLog2Pi
		for j, ls := range b.logStd {
			b.invStd[j] = math.Exp(-float64(ls))
			b.lossConst += float64(ls)
		}
	}

	chunkRows := gradChunkRows
	if b.cnn != nil {
		chunkRows = cnnGradChunkRows
		b.cnn.refresh()
	}
	chunks := min((n+chunkRows-1)/chunkRows, maxGradChunks)
	b.task = nativeTask{grad: true, n: n, chunks: chunks, chunkRows: (n + chunks - 1) / chunks, batch: bt, cfg: c}
	for len(b.chunkRes) < chunks {
		b.chunkRes = append(b.chunkRes, chunkResult{})
	}
	for len(b.chunkG)+1 < chunks {
		b.chunkG = append(b.chunkG, make([]float32, len(b.gflat)))
	}
	b.hasGrad = false
	b.dispatch()
	b.task = nativeTask{}

	// Reduce in chunk order: chunk 0 wrote gflat directly.
	res := b.chunkRes[0]
	for k := 1; k < chunks; k++ {
		blas.Add(b.gflat, b.chunkG[k-1])
		r := b.chunkRes[k]
		res.pg += r.pg
		res.vloss += r.vloss
		res.ent += r.ent
		res.kl += r.kl
		res.clipped += r.clipped
	}
	nf := float64(n)
	st := LossStats{
		PolicyLoss: res.pg / nf,
		ValueLoss:  res.vloss / nf,
		ApproxKL:   res.kl / nf,
		ClipFrac:   float64(res.clipped) / nf,
	}
	if s.Discrete {
		st.Entropy = res.ent / nf
	} else {
		// The entropy of a diagonal Gaussian does not depend on the
		// sample: Σ log_std + ActDim·(½ + ½log(2π)); d/dlog_std = 1.
		st.Entropy = b.lossConst + 0.5*float64(s.ActDim)
		g := b.gflat[b.gLSOff : b.gLSOff+s.ActDim]
		for j := range g {
			g[j] -= c.EntCoef
		}
	}
	st.Loss = st.PolicyLoss - float64(c.EntCoef)*st.Entropy + float64(c.VfCoef)*st.ValueLoss
	if c.ImitationCoef != 0 && b.demoN > 0 {
		st.Imitation = b.imitate(c.ImitationCoef)
		st.Loss += float64(c.ImitationCoef) * st.Imitation
	}
	b.hasGrad = true
	return st, nil
}

// gradChunk computes chunk k (rows [r0, r1)) of the current Grad task into
// g (a flat gradient buffer) and b.chunkRes[k].
func (b *nativeBackend) gradChunk(ws *nativeWork, k, r0, r1 int, g []float32) {
	t, s := &b.task, b.spec
	bt := &t.batch
	r := r1 - r0
	x := bt.Obs[r0*s.ObsDim : r1*s.ObsDim]
	pol := ws.nets[0].out[:r*s.ActDim]
	val := ws.nets[1].out[:r]
	if b.cnn != nil {
		b.cnn.forward(&ws.cw, x, r, pol, val)
	} else {
		b.mlpForward(ws, 0, x, r, pol)
		b.mlpForward(ws, 1, x, r, val)
	}

	// Per-sample loss terms and the gradient at both heads.
	c := t.cfg
	nf := float64(t.n)
	clip := float64(c.ClipCoef)
	lo, hi := 1-clip, 1+clip
	vScale := float64(c.VfCoef) / nf // d(VfCoef·½·mean(d²))/dd = VfCoef·d/N
	entScale := float64(c.EntCoef) / nf
	A := s.ActDim
	dPol := ws.dA[:r*A]
	dV := ws.dV[:r]
	dls := ws.tmp[A : 2*A] // Σ_i dL/dlog_std over the chunk (continuous)
	clear(dls)
	var res chunkResult
	for i := 0; i < r; i++ {
		gi := r0 + i
		head := pol[i*A : i*A+A]
		dHead := dPol[i*A : i*A+A]
		var logp, lse, ent float64
		act := 0
		if s.Discrete {
			act = int(bt.Actions[gi])
			m := math.Inf(-1)
			for _, l := range head {
				m = max(m, float64(l))
			}
			var sum float64
			ex := ws.tmp[:A]
			for j, l := range head {
				e := math.Exp(float64(l) - m)
				ex[j] = e
				sum += e
			}
			lse = m + math.Log(sum)
			for j, l := range head {
				p := ex[j] / sum
				ex[j] = p
				if p != 0 {
					ent -= p * (float64(l) - lse)
				}
			}
			logp = float64(head[act]) - lse
			res.ent += ent
		} else {
			a := bt.Actions[gi*A : gi*A+A]
			logp = -b.lossConst
			for j, mu := range head {
				z := (float64(a[j]) - float64(mu)) * b.invStd[j]
				logp -= 0.5 * z * z
			}
		}

		// Clipped surrogate: max(pg1, pg2), ties and pg1 > pg2 go to pg1.
		logRatio := logp - float64(bt.LogProbs[gi])
		ratio := math.Exp(logRatio)
		res.kl += (ratio - 1) - logRatio
		if math.Abs(ratio-1) > clip {
			res.clipped++
		}
		adv := float64(bt.Advantages[gi])
		clamped := min(max(ratio, lo), hi)
		pg1, pg2 := -adv*ratio, -adv*clamped
		var dRatio float64
		if pg1 >= pg2 {
			res.pg += pg1
			dRatio = -adv
		} else {
			res.pg += pg2
			if ratio >= lo && ratio <= hi {
				dRatio = -adv
			}
		}
		dLogp := dRatio * ratio / nf

		if s.Discrete {
			p := ws.tmp[:A]
			for j, l := range head {
				d := -dLogp * p[j]
				if j == act {
					d += dLogp
				}
				d += entScale * p[j] * ((float64(l) - lse) + ent)
				dHead[j] = float32(d)
			}
		} else {
			a := bt.Actions[gi*A : gi*A+A]
			for j, mu := range head {
				z := (float64(a[j]) - float64(mu)) * b.invStd[j]
				dHead[j] = float32(dLogp * z * b.invStd[j])
				dls[j] += dLogp * (z*z - 1)
			}
		}

		// Value loss: ½·max(unclipped, clipped) or ½·unclipped.
		v := float64(val[i])
		ret := float64(bt.Returns[gi])
		d := v - ret
		unclipped := d * d
		dv := d
		if c.ClipVLoss {
			old := float64(bt.Values[gi])
			delta := v - old
			dc := old + min(max(delta, -clip), clip) - ret
			sq := dc * dc
			if unclipped >= sq {
				res.vloss += 0.5 * unclipped
			} else {
				res.vloss += 0.5 * sq
				dv = 0
				if delta >= -clip && delta <= clip {
					dv = dc
				}
			}
		} else {
			res.vloss += 0.5 * unclipped
		}
		dV[i] = float32(vScale * dv)
	}
	b.chunkRes[k] = res
	if !s.Discrete {
		for j, v := range dls {
			g[b.gLSOff+j] = float32(v)
		}
	}

	if b.cnn != nil {
		b.cnn.backward(&ws.cw, x, r, dPol, dV, g)
		return
	}
	b.mlpBackward(ws, 0, r, x, dPol, g)
	b.mlpBackward(ws, 1, r, x, dV, g)
}

// mlpBackward back-propagates dOut (the [r, outDim] gradient at net k's
// head, held in ws.dA or ws.dV) through net k, the input of its first
// layer being x, writing its weight and bias gradients into g.
func (b *nativeBackend) mlpBackward(ws *nativeWork, k, r int, x, dOut []float32, g []float32) {
	layers := b.nets[k]
	relu := b.spec.Activation == ActReLU
	dz := dOut
	inA := k == 0 // whether dz lives in ws.dA (the policy head's does)
	for l := len(layers) - 1; l >= 0; l-- {
		ly := &layers[l]
		in := x
		if l > 0 {
			in = ws.nets[k].h[l-1][:r*ly.in]
		}
		// dW = dZᵀ·H and db = column sums of dZ.
		blas.Sgemm(true, false, ly.out, ly.in, r, 1, dz, ly.out, in, ly.in, 0, g[ly.wOff:ly.wOff+ly.out*ly.in], ly.in)
		blas.ColSums(g[ly.bOff:ly.bOff+ly.out], dz, r, ly.out)
		if l == 0 {
			return
		}
		// dH = dZ·W, then dZ of the layer below = dH ⊙ act'(H).
		dh := ws.dA[:r*ly.in]
		if inA {
			dh = ws.dB[:r*ly.in]
		}
		inA = !inA
		blas.Sgemm(false, false, r, ly.in, ly.out, 1, dz, ly.out, ly.w, ly.in, 0, dh, ly.in)
		h := ws.nets[k].h[l-1][:r*ly.in]
		h = h[:len(dh)]
		if relu {
			blas.ReLUGrad(dh, h)
		} else {
			blas.TanhGrad(dh, h)
		}
		dz = dh
	}
}

// ---------------------------------------------------------------------------
// Chunk scheduling

// dispatch runs b.task's chunks on the caller and, when there is more than
// one chunk, on worker goroutines, and waits for all of them.
func (b *nativeBackend) dispatch() {
	t := &b.task
	workers := 1
	if t.chunks > 1 {
		workers = min(runtime.GOMAXPROCS(0), t.chunks, maxNativeWorkers)
	}
	t.workers = workers
	rows := min(t.chunkRows, t.n)
	for len(b.work) < workers {
		b.work = append(b.work, &nativeWork{})
	}
	for w := 0; w < workers; w++ {
		b.work[w].ensure(b, rows)
	}
	if workers == 1 {
		b.runWorker(0)
		return
	}
	if b.pool == nil {
		b.pool = newNativePool()
		// Stop the goroutines if the backend is dropped without Close; the
		// pool does not reference the backend, so the cleanup can run.
		runtime.AddCleanup(b, (*nativePool).stop, b.pool)
	}
	b.pool.grow(workers - 1)
	b.wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		b.pool.jobs <- nativeJob{fn: b.runFn, worker: w, wg: &b.wg}
	}
	b.runWorker(0)
	b.wg.Wait()
}

// runWorker processes chunks worker, worker+workers, ... of b.task.
func (b *nativeBackend) runWorker(worker int) {
	t := &b.task
	ws := b.work[worker]
	for k := worker; k < t.chunks; k += t.workers {
		r0 := k * t.chunkRows
		r1 := min(r0+t.chunkRows, t.n)
		if !t.grad {
			if r0 < r1 {
				b.forwardChunk(ws, r0, r1)
			}
			continue
		}
		g := b.gflat
		if k > 0 {
			g = b.chunkG[k-1]
		}
		if r0 >= r1 { // an empty chunk (not produced by Grad's sizes)
			clear(g)
			b.chunkRes[k] = chunkResult{}
			continue
		}
		b.gradChunk(ws, k, r0, r1, g)
	}
}

// ensure sizes ws for at least rows rows.
func (ws *nativeWork) ensure(b *nativeBackend, rows int) {
	if ws.rows >= rows {
		return
	}
	s := b.spec
	ws.rows = rows
	if b.cnn != nil {
		b.cnn.ensure(&ws.cw, rows)
		ws.nets[0].out, ws.nets[1].out = make([]float32, rows*s.ActDim), make([]float32, rows)
		ws.dA, ws.dV = make([]float32, rows*s.ActDim), make([]float32, rows)
		ws.tmp = make([]float64, 2*s.ActDim)
		return
	}
	for k := range b.nets {
		layers := b.nets[k]
		nw := &ws.nets[k]
		nw.h = make([][]float32, len(layers)-1)
		for l := 0; l+1 < len(layers); l++ {
			nw.h[l] = make([]float32, rows*layers[l].out)
		}
		nw.out = make([]float32, rows*layers[len(layers)-1].out)
	}
	ws.dA = make([]float32, rows*b.maxW)
	ws.dB = make([]float32, rows*b.maxW)
	ws.dV = make([]float32, rows)
	ws.tmp = make([]float64, 2*s.ActDim)
}

// nativeJob asks a pool goroutine to run fn(worker) and then wg.Done().
type nativeJob struct {
	fn     func(worker int)
	worker int
	wg     *sync.WaitGroup
}

// nativePool is a set of goroutines waiting for jobs.
type nativePool struct {
	jobs    chan nativeJob
	mu      sync.Mutex
	started int
	stopped bool
}

func newNativePool() *nativePool {
	return &nativePool{jobs: make(chan nativeJob)}
}

// grow makes sure at least n goroutines serve p.jobs.
func (p *nativePool) grow(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for ; p.started < n; p.started++ {
		go p.serve()
	}
}

// serve runs jobs until p.jobs is closed.
func (p *nativePool) serve() {
	for j := range p.jobs {
		j.fn(j.worker)
		j.wg.Done()
	}
}

// stop closes the job channel once; idle goroutines then exit.
func (p *nativePool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.jobs)
	}
}

// ---------------------------------------------------------------------------
// Kernels

// linear sets c = a·wᵀ + bias for a [m, q], w [p, q] (PyTorch's [out, in])
// and c [m, p], all row-major: each row of c starts as the bias and the
// product is added by one sgemm through the BLAS seam. Below smallRows
// rows (acting in one or two envs, every env step) a Go loop of dot
// products is faster than OpenBLAS's setup for a matrix-vector product.
func linear(c, a, w, bias []float32, m, p, q int) {
	c = c[:m*p]
	if m < smallRows {
		for i := 0; i < m; i++ {
			ai := a[i*q : i*q+q]
			ci := c[i*p : i*p+p]
			j := 0
			for ; j+3 <= p; j += 3 {
				w0, w1, w2 := w[j*q:j*q+q], w[j*q+q:j*q+2*q], w[j*q+2*q:j*q+3*q]
				w0, w1, w2 = w0[:len(ai)], w1[:len(ai)], w2[:len(ai)]
				var s0, s1, s2 float32
				for k, x := range ai {
					s0 += x * w0[k]
					s1 += x * w1[k]
					s2 += x * w2[k]
				}
				ci[j], ci[j+1], ci[j+2] = s0+bias[j], s1+bias[j+1], s2+bias[j+2]
			}
			for ; j < p; j++ {
				wj := w[j*q : j*q+q]
				wj = wj[:len(ai)]
				var s float32
				for k, x := range ai {
					s += x * wj[k]
				}
				ci[j] = s + bias[j]
			}
		}
		return
	}
	for i := 0; i < m; i++ {
		copy(c[i*p:i*p+p], bias)
	}
	blas.Sgemm(false, true, m, p, q, 1, a, q, w, q, 1, c, p)
}
