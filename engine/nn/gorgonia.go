package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file implements Backend on gorgonia (CPU, float32).
//
// Layout. Inside the graphs activations are feature-major: a batch of n
// observations is an [ObsDim, n] matrix X, and a layer computes
// act(W·X + b·1ᵀ) with W in PyTorch layout [out, in] and 1ᵀ a [1, n] row
// of ones (a rank-1 matmul broadcasts the bias and gives exact bias
// gradients without gorgonia's Broadcast/Repeat ops). Forward and Grad
// transpose the caller's row-major [n, dim] buffers while copying them into
// the graph inputs.
//
// Shared parameters. Every parameter is one *tensor.Dense backed by a
// []float32 owned by the backend; every compiled graph (one per batch size
// for Forward, one per (batch size, ClipVLoss) for Grad) binds the same Dense
// to its own input node, so an update made by Step or through
// Params()[i].Data is seen by all graphs. Graph inputs are never overwritten
// by gorgonia's in-place optimisation (inputs stay live for the whole
// program), so they are reused across calls.
//
// Outputs are taken with gorgonia.Read nodes whose targets are tensors
// backed by backend-owned buffers (gradients are read straight into the
// Grads() buffers). Read copies when it executes, so later in-place ops in
// the tape cannot corrupt them, unlike Node.Value().
//
// max/clamp branches. The clipped surrogate and the clipped value loss use
// gorgonia.MaxBetween/MinBetween. Their symbolic derivative routes the
// incoming gradient to the first argument where it equals the output and
// to the second argument elsewhere. clamp(x, lo, hi) is built as
// MinBetween(MaxBetween(x, lo), hi) with lo/hi fed as constant vectors, so
// its derivative is 1 for lo <= x <= hi and 0 outside, exactly
// torch.clamp's. For max(-adv*ratio, -adv*clamp(ratio)) the tie
// (ratio inside the clip range) sends the whole gradient to the unclipped
// term, which has the same derivative as the clipped one there, so the
// result equals torch's (which splits ties half/half between two equal
// derivatives). The same holds for the value loss. Only the measure-zero
// points ratio == 1±ClipCoef (and v-oldV == ±ClipCoef) differ from torch.
//
// Allocation. Inputs and output buffers are allocated once per compiled
// graph. gorgonia's TapeMachine, however, drops every intermediate value
// on Reset and runs each program on a fresh goroutine, so each Forward/Grad
// still allocates its intermediate tensors; that cannot be avoided from
// outside gorgonia v0.9.18.

// buildMu serialises graph construction and compilation across backends:
// gorgonia shares package-level constant nodes (used by Grad and Rectify,
// among others) between graphs and lazily writes their hash codes, which
// races when two backends build graphs concurrently (found with -race).
var buildMu sync.Mutex

// maxCachedGraphs bounds each graph cache; batch sizes in PPO take a handful
// of values (envs, minibatch, last partial minibatch), so eviction is rare.
const maxCachedGraphs = 16

// gparam is one parameter with its storage, gradient and graph tensor.
type gparam struct {
	name   string
	shape  []int        // reported shape
	gshape tensor.Shape // shape inside the graphs (biases and log_std are columns)
	data   []float32
	grad   []float32
	dense  *tensor.Dense // backed by data, shared by all graphs
}

// layerRef indexes the weight and bias of one Linear layer in params.
type layerRef struct{ w, b int }

// gorgoniaBackend implements Backend with gorgonia graphs on the CPU.
type gorgoniaBackend struct {
	spec      Spec
	params    []*gparam
	policy    []layerRef
	logStd    int // index of log_std in params, -1 when Discrete
	value     []layerRef
	cnn       *cnnRefs // the conv torso when spec.IsImage(), else nil
	optimizer          // pdata[i] = params[i].data, gdata[i] = params[i].grad
	hostRollout
	fwd  map[int]*fwdGraph
	loss map[lossKey]*lossGraph
}

// NewGorgonia builds the policy and value networks described by spec on
// gorgonia's CPU backend. Parameters are initialised like CleanRL's
// layer_init (orthogonal weights with gain sqrt(2) for hidden layers, 0.01
// for the policy head and 1 for the value head; zero biases; log_std =
// InitLogStd) from a PCG generator seeded with seed, so equal seeds give
// equal networks. Zero fields of adam take their defaults.
func NewGorgonia(spec Spec, seed uint64, adam AdamConfig) (Backend, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	adam = adam.withDefaults()
	if err := adam.validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	b := &gorgoniaBackend{
		spec:   spec,
		logStd: -1,
		fwd:    make(map[int]*fwdGraph),
		loss:   make(map[lossKey]*lossGraph),
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	if spec.IsImage() {
		b.addCNN(rng)
	} else {
		b.addMLPs(rng)
	}
	for _, p := range b.params {
		b.pdata = append(b.pdata, p.data)
		b.gdata = append(b.gdata, p.grad)
		b.names = append(b.names, p.name)
	}
	b.opt = newAdamState(adam, b.pdata)
	b.hostRollout = hostRollout{spec: b.spec, grad: b.Grad, closedp: &b.optimizer.closed}
	return b, nil
}

// addMLPs creates and initialises the policy MLP, log_std (continuous) and
// the value MLP.
func (b *gorgoniaBackend) addMLPs(rng *rand.Rand) {
	spec := b.spec
	b.policy = b.addMLP("policy", spec.ActDim, 0.01, rng)
	if !spec.Discrete {
		b.logStd = b.addParam("policy.log_std", []int{spec.ActDim}, tensor.Shape{spec.ActDim, 1})
		for i := range b.params[b.logStd].data {
			b.params[b.logStd].data[i] = spec.InitLogStd
		}
	}
	b.value = b.addMLP("value", 1, 1.0, rng)
}

// addParam appends a zero parameter and returns its index.
func (b *gorgoniaBackend) addParam(name string, shape []int, gshape tensor.Shape) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	p := &gparam{
		name:   name,
		shape:  shape,
		gshape: gshape,
		data:   make([]float32, n),
		grad:   make([]float32, n),
	}
	p.dense = tensor.New(tensor.WithShape(gshape...), tensor.WithBacking(p.data))
	b.params = append(b.params, p)
	return len(b.params) - 1
}

// addMLP appends the Linear layers of one MLP with outDim outputs and
// initialises them; headGain is the orthogonal gain of the last layer.
func (b *gorgoniaBackend) addMLP(prefix string, outDim int, headGain float64, rng *rand.Rand) []layerRef {
	sizes := append([]int{b.spec.ObsDim}, b.spec.Hidden...)
	sizes = append(sizes, outDim)
	layers := make([]layerRef, 0, len(sizes)-1)
	for l := 0; l+1 < len(sizes); l++ {
		in, out := sizes[l], sizes[l+1]
		gain := math.Sqrt2
		if l+2 == len(sizes) {
			gain = headGain
		}
		idx := 2 * l // nn.Sequential index: Linear, act, Linear, act, ...
		w := b.addParam(fmt.Sprintf("%s.%d.weight", prefix, idx), []int{out, in}, tensor.Shape{out, in})
		copy(b.params[w].data, Orthogonal(out, in, gain, rng))
		bias := b.addParam(fmt.Sprintf("%s.%d.bias", prefix, idx), []int{out}, tensor.Shape{out, 1})
		layers = append(layers, layerRef{w: w, b: bias})
	}
	return layers
}

// Spec returns the network description with defaults filled in.
func (b *gorgoniaBackend) Spec() Spec {
	s := b.spec
	s.Hidden = append([]int(nil), s.Hidden...)
	return s
}

// Params lists the parameters; Data aliases the live storage.
func (b *gorgoniaBackend) Params() []Param {
	out := make([]Param, len(b.params))
	for i, p := range b.params {
		out[i] = Param{Name: p.name, Shape: append([]int(nil), p.shape...), Data: p.data}
	}
	return out
}

// Grads lists the stored gradient in Params order; Data aliases it.
func (b *gorgoniaBackend) Grads() []Param {
	out := make([]Param, len(b.params))
	for i, p := range b.params {
		out[i] = Param{Name: p.name, Shape: append([]int(nil), p.shape...), Data: p.grad}
	}
	return out
}

// AdamState returns the Adam moments (aliasing the live state) and step
// count.
func (b *gorgoniaBackend) AdamState() (m, v []Param, t int) {
	m = make([]Param, len(b.params))
	v = make([]Param, len(b.params))
	for i, p := range b.params {
		m[i] = Param{Name: p.name, Shape: append([]int(nil), p.shape...), Data: b.opt.m[i]}
		v[i] = Param{Name: p.name, Shape: append([]int(nil), p.shape...), Data: b.opt.v[i]}
	}
	return m, v, b.opt.t
}

// Close releases all compiled graphs.
func (b *gorgoniaBackend) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	for k, fg := range b.fwd {
		errs = append(errs, fg.vm.Close())
		delete(b.fwd, k)
	}
	for k, lg := range b.loss {
		errs = append(errs, lg.vm.Close())
		delete(b.loss, k)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nn: Close: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Graph construction

// graphBuildError carries an error out of graph construction via panic, so
// that the long chains of gorgonia calls below stay readable.
type graphBuildError struct{ err error }

// must unwraps a gorgonia constructor result, panicking with
// graphBuildError on failure; catchBuild recovers it.
func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(graphBuildError{err})
	}
	return n
}

// catchBuild converts a graphBuildError (or a panic raised inside gorgonia
// while building or compiling) into *err.
func catchBuild(what string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	if be, ok := r.(graphBuildError); ok {
		*err = fmt.Errorf("nn: building %s graph: %w", what, be.err)
		return
	}
	*err = fmt.Errorf("nn: building %s graph: gorgonia panicked: %v", what, r)
}

// netGraph holds the nodes shared by the forward and loss graphs.
type netGraph struct {
	g      *G.ExprGraph
	params []*G.Node // one node per parameter, bound to the shared Dense
	x      *G.Node   // [ObsDim, n] observations (input)
	xbuf   []float32
	ones   *G.Node // [1, n] row of ones (input)
	zero   *G.Node // scalar 0 (input), for ReLU
	head   *G.Node // [ActDim, n] Gaussian mean or logits
	vrow   *G.Node // [1, n] values
}

// buildNet creates a graph with the parameter nodes, the observation input
// and both MLPs for batch size n.
func (b *gorgoniaBackend) buildNet(n int) *netGraph {
	ng := &netGraph{g: G.NewGraph()}
	for _, p := range b.params {
		ng.params = append(ng.params, G.NewMatrix(ng.g, G.Float32, G.WithShape(p.gshape...),
			G.WithName(p.name), G.WithValue(p.dense)))
	}
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	ng.ones = G.NewMatrix(ng.g, G.Float32, G.WithShape(1, n), G.WithName("ones"),
		G.WithValue(tensor.New(tensor.WithShape(1, n), tensor.WithBacking(ones))))
	ng.zero, _ = inputScalar(ng.g, "zero", 0)
	ng.xbuf = make([]float32, b.spec.ObsDim*n)
	if b.cnn != nil {
		b.buildCNN(ng, n)
		return ng
	}
	ng.x = G.NewMatrix(ng.g, G.Float32, G.WithShape(b.spec.ObsDim, n), G.WithName("obs"),
		G.WithValue(tensor.New(tensor.WithShape(b.spec.ObsDim, n), tensor.WithBacking(ng.xbuf))))
	ng.head = b.buildMLP(ng, b.policy)
	ng.vrow = b.buildMLP(ng, b.value)
	return ng
}

// buildMLP applies layers to ng.x: act(W·h + b·1ᵀ) for hidden layers, no
// activation on the last one. ReLU is x ⊙ (x > 0) with the mask treated as
// a constant, so its derivative at exactly 0 is 0 as in torch; gorgonia's
// Rectify uses x >= 0, which differs from torch whenever a pre-activation is
// exactly 0 (common at init: zero biases behind an all-dead layer).
func (b *gorgoniaBackend) buildMLP(ng *netGraph, layers []layerRef) *G.Node {
	h := ng.x
	for l, lr := range layers {
		z := must(G.Mul(ng.params[lr.w], h))
		z = must(G.Add(z, must(G.Mul(ng.params[lr.b], ng.ones))))
		if l+1 < len(layers) {
			if b.spec.Activation == ActReLU {
				z = must(G.HadamardProd(z, must(G.Gt(z, ng.zero, true))))
			} else {
				z = must(G.Tanh(z))
			}
		}
		h = z
	}
	return h
}

// inputVec adds a float32 vector input of length n backed by a new buffer.
func inputVec(g *G.ExprGraph, name string, n int) (*G.Node, []float32) {
	buf := make([]float32, n)
	node := G.NewVector(g, G.Float32, G.WithShape(n), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(buf))))
	return node, buf
}

// inputScalar adds a float32 scalar input whose value can be changed in
// place through the returned pointer.
func inputScalar(g *G.ExprGraph, name string, v float32) (*G.Node, *G.F32) {
	val := G.NewF32(v)
	return G.NewScalar(g, G.Float32, G.WithName(name), G.WithValue(val)), val
}

// newVM compiles g into a tape machine. It panics on compile errors; callers
// run it under catchBuild.
func newVM(g *G.ExprGraph) G.VM {
	return G.NewTapeMachine(g)
}

// run executes vm once and resets it.
func run(vm G.VM) error {
	err := vm.RunAll()
	vm.Reset()
	return err
}

// fwdGraph is the compiled forward graph for one batch size.
type fwdGraph struct {
	n    int
	net  *netGraph
	vm   G.VM
	head []float32 // [ActDim, n], read target
	vals []float32 // [n], read target
	// Read targets (must stay addressable for the lifetime of the graph).
	headV, valsV G.Value
}

// fwdGraphFor returns the cached forward graph for batch size n.
func (b *gorgoniaBackend) fwdGraphFor(n int) (fg *fwdGraph, err error) {
	if fg = b.fwd[n]; fg != nil {
		return fg, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	defer catchBuild("forward", &err)
	fg = &fwdGraph{n: n, net: b.buildNet(n)}
	fg.head = make([]float32, b.spec.ActDim*n)
	fg.vals = make([]float32, n)
	fg.headV = tensor.New(tensor.WithShape(b.spec.ActDim, n), tensor.WithBacking(fg.head))
	fg.valsV = tensor.New(tensor.WithShape(1, n), tensor.WithBacking(fg.vals))
	G.Read(fg.net.head, &fg.headV)
	G.Read(fg.net.vrow, &fg.valsV)
	fg.vm = newVM(fg.net.g)
	if len(b.fwd) >= maxCachedGraphs {
		for k, old := range b.fwd {
			old.vm.Close()
			delete(b.fwd, k)
			break
		}
	}
	b.fwd[n] = fg
	return fg, nil
}

// Forward evaluates n observations: dist gets the n*ActDim Gaussian means
// or logits (row-major [n, ActDim]) and values gets the n value estimates.
func (b *gorgoniaBackend) Forward(obs []float32, n int, dist, values []float32) error {
	if err := b.spec.checkForward(b.closed, obs, n, dist, values); err != nil {
		return err
	}
	s := b.spec
	fg, err := b.fwdGraphFor(n)
	if err != nil {
		return err
	}
	b.loadObs(fg.net.xbuf, obs, n)
	if err := run(fg.vm); err != nil {
		return fmt.Errorf("nn: Forward (n = %d): %w", n, err)
	}
	transposeInto(dist, fg.head, s.ActDim, n)
	copy(values, fg.vals)
	return nil
}

// loadObs copies n row-major observations into a graph's observation
// buffer: transposed to [ObsDim, n] for the MLPs, as is (NCHW) for the CNN.
func (b *gorgoniaBackend) loadObs(xbuf, obs []float32, n int) {
	if b.cnn != nil {
		copy(xbuf, obs)
		return
	}
	transposeInto(xbuf, obs, n, b.spec.ObsDim)
}

// transposeInto writes the transpose of the rows×cols row-major src into
// dst (cols×rows).
func transposeInto(dst, src []float32, rows, cols int) {
	for i := 0; i < rows; i++ {
		row := src[i*cols : (i+1)*cols]
		for j, x := range row {
			dst[j*rows+i] = x
		}
	}
}

// lossKey identifies a compiled loss graph.
type lossKey struct {
	n     int
	clipV bool
}

// lossGraph is the compiled PPO loss+gradient graph for one batch size.
type lossGraph struct {
	key lossKey
	net *netGraph
	vm  G.VM

	// Input buffers (feature-major where 2-D).
	act      []float32 // [ActDim, n]: actions (continuous) or one-hot (discrete)
	oldLogP  []float32
	negAdv   []float32 // -advantages
	ret      []float32
	oldV     []float32 // only with clipV
	rLo, rHi []float32 // 1-ClipCoef, 1+ClipCoef
	vLo, vHi []float32 // -ClipCoef, +ClipCoef (only with clipV)
	entCoef  *G.F32
	vfCoef   *G.F32
	clip     float32 // ClipCoef currently written into rLo/rHi/vLo/vHi

	// Read targets.
	logRatio                 []float32
	logRatioV                G.Value
	lossV, pgV, vlossV, entV G.Value
	gradV                    []G.Value
}

// lossGraphFor returns the cached loss graph for key.
func (b *gorgoniaBackend) lossGraphFor(key lossKey) (lg *lossGraph, err error) {
	if lg = b.loss[key]; lg != nil {
		return lg, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	defer catchBuild("loss", &err)
	s := b.spec
	n := key.n
	ng := b.buildNet(n)
	g := ng.g
	lg = &lossGraph{key: key, net: ng, clip: float32(math.NaN())}

	lg.act = make([]float32, s.ActDim*n)
	act := G.NewMatrix(g, G.Float32, G.WithShape(s.ActDim, n), G.WithName("actions"),
		G.WithValue(tensor.New(tensor.WithShape(s.ActDim, n), tensor.WithBacking(lg.act))))
	var oldLogP, negAdv, ret, rLo, rHi *G.Node
	oldLogP, lg.oldLogP = inputVec(g, "old_logprob", n)
	negAdv, lg.negAdv = inputVec(g, "neg_advantages", n)
	ret, lg.ret = inputVec(g, "returns", n)
	rLo, lg.rLo = inputVec(g, "ratio_lo", n)
	rHi, lg.rHi = inputVec(g, "ratio_hi", n)
	entCoef, entCoefV := inputScalar(g, "ent_coef", 0)
	vfCoef, vfCoefV := inputScalar(g, "vf_coef", 0)
	lg.entCoef, lg.vfCoef = entCoefV, vfCoefV
	half, _ := inputScalar(g, "half", 0.5)

	// New log-probabilities and mean entropy.
	var logp, entMean *G.Node
	if s.Discrete {
		// log_softmax over actions = axis 0 of the [A, n] logits. The axis
		// must be explicit: gorgonia's backward op passes it unresolved, and
		// its last-axis kernel shifts by the first element of the whole
		// tensor instead of the row max; the inner-axis kernel used here
		// shifts each column by its own max, so it is stable.
		lsm := must(G.LogSoftMax(ng.head, 0))
		logp = must(G.Sum(must(G.HadamardProd(lsm, act)), 0))
		p := must(G.Exp(lsm))
		ent := must(G.Neg(must(G.Sum(must(G.HadamardProd(p, lsm)), 0))))
		entMean = must(G.Mean(ent))
	} else {
		ls := ng.params[b.logStd]          // [A, 1]
		lsFull := must(G.Mul(ls, ng.ones)) // [A, n]
		z := must(G.HadamardProd(must(G.Sub(act, ng.head)), must(G.Exp(must(G.Neg(lsFull))))))
		negHalf, _ := inputScalar(g, "neg_half", -0.5)
		terms := must(G.Sub(must(G.HadamardProd(negHalf, must(G.Square(z)))), lsFull))
		logConst, _ := inputScalar(g, "gauss_logconst", float32(float64(s.ActDim)*halfLog2Pi))
		logp = must(G.Sub(must(G.Sum(terms, 0)), logConst))
		entConst, _ := inputScalar(g, "gauss_entconst", float32(float64(s.ActDim)*(0.5+halfLog2Pi)))
		entMean = must(G.Add(must(G.Sum(ls)), entConst))
	}

	// Clipped surrogate objective.
	logRatio := must(G.Sub(logp, oldLogP))
	ratio := must(G.Exp(logRatio))
	pg1 := must(G.HadamardProd(negAdv, ratio))
	clipped := must(G.MinBetween(must(G.MaxBetween(ratio, rLo)), rHi))
	pg2 := must(G.HadamardProd(negAdv, clipped))
	pgLoss := must(G.Mean(must(G.MaxBetween(pg1, pg2))))

	// Value loss.
	v := must(G.Reshape(ng.vrow, tensor.Shape{n}))
	unclipped := must(G.Square(must(G.Sub(v, ret))))
	var vLoss *G.Node
	if key.clipV {
		var oldV, vLo, vHi *G.Node
		oldV, lg.oldV = inputVec(g, "old_values", n)
		vLo, lg.vLo = inputVec(g, "value_lo", n)
		vHi, lg.vHi = inputVec(g, "value_hi", n)
		dv := must(G.MinBetween(must(G.MaxBetween(must(G.Sub(v, oldV)), vLo)), vHi))
		vClipped := must(G.Add(oldV, dv))
		sqClipped := must(G.Square(must(G.Sub(vClipped, ret))))
		vLoss = must(G.HadamardProd(half, must(G.Mean(must(G.MaxBetween(unclipped, sqClipped))))))
	} else {
		vLoss = must(G.HadamardProd(half, must(G.Mean(unclipped))))
	}

	loss := must(G.Add(
		must(G.Sub(pgLoss, must(G.HadamardProd(entCoef, entMean)))),
		must(G.HadamardProd(vfCoef, vLoss))))

	grads, err := G.Grad(loss, ng.params...)
	if err != nil {
		return nil, fmt.Errorf("nn: building loss graph: symbolic gradient: %w", err)
	}

	lg.logRatio = make([]float32, n)
	lg.logRatioV = tensor.New(tensor.WithShape(n), tensor.WithBacking(lg.logRatio))
	G.Read(logRatio, &lg.logRatioV)
	G.Read(loss, &lg.lossV)
	G.Read(pgLoss, &lg.pgV)
	G.Read(vLoss, &lg.vlossV)
	G.Read(entMean, &lg.entV)
	lg.gradV = make([]G.Value, len(grads))
	for i, gn := range grads {
		p := b.params[i]
		lg.gradV[i] = tensor.New(tensor.WithShape(p.gshape...), tensor.WithBacking(p.grad))
		G.Read(gn, &lg.gradV[i])
	}
	lg.vm = newVM(g)
	if len(b.loss) >= maxCachedGraphs {
		for k, old := range b.loss {
			old.vm.Close()
			delete(b.loss, k)
			break
		}
	}
	b.loss[key] = lg
	return lg, nil
}

// Grad computes the PPO loss over the batch and stores its gradient.
func (b *gorgoniaBackend) Grad(bt Batch, c LossConfig) (LossStats, error) {
	if b.closed {
		return LossStats{}, errors.New("nn: Grad: backend is closed")
	}
	if err := b.spec.checkBatch("Grad", bt, c); err != nil {
		return LossStats{}, err
	}
	if c.ImitationCoef != 0 {
		return LossStats{}, errNoImitation("gorgonia")
	}
	lg, err := b.lossGraphFor(lossKey{n: bt.N, clipV: c.ClipVLoss})
	if err != nil {
		return LossStats{}, err
	}
	s, n := b.spec, bt.N

	b.loadObs(lg.net.xbuf, bt.Obs, n)
	if s.Discrete {
		clear(lg.act)
		for i, a := range bt.Actions {
			lg.act[int(a)*n+i] = 1
		}
	} else {
		transposeInto(lg.act, bt.Actions, n, s.ActDim)
	}
	copy(lg.oldLogP, bt.LogProbs)
	for i, a := range bt.Advantages {
		lg.negAdv[i] = -a
	}
	copy(lg.ret, bt.Returns)
	if c.ClipVLoss {
		copy(lg.oldV, bt.Values)
	}
	if lg.clip != c.ClipCoef {
		fill(lg.rLo, 1-c.ClipCoef)
		fill(lg.rHi, 1+c.ClipCoef)
		if c.ClipVLoss {
			fill(lg.vLo, -c.ClipCoef)
			fill(lg.vHi, c.ClipCoef)
		}
		lg.clip = c.ClipCoef
	}
	*lg.entCoef = G.F32(c.EntCoef)
	*lg.vfCoef = G.F32(c.VfCoef)

	b.hasGrad = false // the gradient buffers are about to be overwritten
	if err := run(lg.vm); err != nil {
		return LossStats{}, fmt.Errorf("nn: Grad (N = %d): %w", n, err)
	}
	b.hasGrad = true

	var st LossStats
	for _, x := range []struct {
		dst *float64
		v   G.Value
		nm  string
	}{{&st.Loss, lg.lossV, "loss"}, {&st.PolicyLoss, lg.pgV, "pg_loss"}, {&st.ValueLoss, lg.vlossV, "v_loss"}, {&st.Entropy, lg.entV, "entropy"}} {
		f, err := scalarValue(x.v)
		if err != nil {
			return st, fmt.Errorf("nn: Grad: reading %s: %w", x.nm, err)
		}
		*x.dst = f
	}
	clipCoef := float64(c.ClipCoef)
	var kl, clipped float64
	for _, lr := range lg.logRatio {
		l := float64(lr)
		r := math.Exp(l)
		kl += (r - 1) - l
		if math.Abs(r-1) > clipCoef {
			clipped++
		}
	}
	st.ApproxKL = kl / float64(n)
	st.ClipFrac = clipped / float64(n)
	return st, nil
}

// fill sets every element of dst to v.
func fill(dst []float32, v float32) {
	for i := range dst {
		dst[i] = v
	}
}

// scalarValue extracts a float from a scalar gorgonia value.
func scalarValue(v G.Value) (float64, error) {
	switch x := v.(type) {
	case *G.F32:
		return float64(*x), nil
	case *G.F64:
		return float64(*x), nil
	case tensor.Tensor:
		if x.Shape().TotalSize() == 1 {
			switch d := x.Data().(type) {
			case float32:
				return float64(d), nil
			case []float32:
				return float64(d[0]), nil
			}
		}
		return 0, fmt.Errorf("got a %v tensor of shape %v, want a float32 scalar", x.Dtype(), x.Shape())
	case nil:
		return 0, errors.New("no value was read")
	}
	return 0, fmt.Errorf("unexpected value type %T", v)
}
