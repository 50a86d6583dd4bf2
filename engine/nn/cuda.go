//go:build ultracuda

package nn

import (
	"errors"
	"fmt"

	"github.com/ultra-rl/ultra/cuda"
)

// This file implements Backend on an NVIDIA GPU through package cuda (the
// driver API, cuBLAS and the project's kernels; build tag `ultracuda`).
//
// Same networks, same maths. The parameters, their names, order, shapes
// and initial values are those of [NewNative] (MLPs) or [NewGorgonia]
// (Nature-CNN): the backend builds that reference once to take its
// initialisation. The loss and Adam run in the kernels of cuda/kernels,
// whose per-element bodies mirror native.go and adam.go operation for
// operation (the loss terms and Adam in double precision); matrix products
// are cuBLAS sgemm in full FP32 unless Options.TF32 is set. The tests run
// this file against the native and gorgonia backends on the CPU emulator of
// the driver (cuda/cudatest), and `make gpu-check` on a GPU.
//
// Where the data lives. Parameters, gradients and Adam's moments live on
// the device in four flat buffers laid out in Params order, so gradient
// clipping and Adam are one pass each over all parameters. SetRollout copies
// a whole rollout to the device once per iteration; GradMinibatch uploads
// only the minibatch's indices and gathers the samples there. Forward
// uploads the observations and downloads the distribution parameters and
// values: the rollout's only per-step copies. Every copy, kernel and cuBLAS
// call is queued on one stream; the host waits only where it needs a
// result (Forward's outputs, Grad's loss statistics, Step's gradient norm).
//
// Transfers per step and per update. The per-step and per-minibatch
// copies go through page-locked staging (cuda.HostBuffer, allocated with
// the workspace and reused), so they are asynchronous DMA transfers: the
// host queues the upload, the kernels and the download, and waits once.
// The policy outputs and the values of a call lie next to each other on
// the device (cudaWork.head), so one download brings both. A staging
// buffer is written only after cuda.Device.SyncPinned (a no-op when the
// last call already waited) and read only after it. TestTransfersPerStep
// pins these counts:
//
//   - an acting step (Forward): 1 upload and 1 download, page-locked, and
//     1 wait; the first Forward after an update also downloads the
//     parameters (2 downloads), in the same wait;
//   - an update of E epochs of M minibatches (SetRollout, then E·M times
//     GradMinibatch and Step): SetRollout's 3 uploads (pageable: the
//     rollout, copied once; the driver stages it), then per minibatch 1
//     upload (the indices) and 2 downloads (the loss statistics, the
//     gradient norm), page-locked, and 2 waits (Grad returns the
//     statistics and Step the norm): 3 + E·M uploads, 2·E·M downloads,
//     2·E·M waits.
//
// The copies that are not per step or per minibatch are synchronous and
// from Go memory: Grad's (a whole batch, for tests and imitation), the
// host mirrors' (Params, AdamState, checkpoints) and SetRollout's.
//
// Host mirrors. Params, Grads and AdamState return host copies, because
// callers hold and write their Data (checkpoint loading writes the
// parameters; the trainer reads log_std while it samples). The backend
// keeps the mirrors coherent: after a Step the device is newer, and the
// next Params, AdamState or Forward call refreshes the host copy (Forward
// does, so that a log_std slice kept by the caller is current during the
// rollout); after Params or AdamState the host copy may have been written,
// so the next device computation uploads it first. Snapshot sets the
// parameters and moments aside on the device (nn.Snapshotter), so that a
// checkpoint kept just in case crosses to the host only if it is written.
//
// Layouts follow native.go: activations are row-major [rows, width], so a
// Linear layer is Z = H·Wᵀ + b with W in PyTorch layout [out, in]. The CNN
// keeps its activations as [n·oh·ow, channels] (NHWC) matrices, which is
// what im2col + sgemm produce and the next im2col reads; the torso output
// is transposed once to PyTorch's channel-major flatten order.

// clayer is one Linear layer: offsets (in float32s) of its weight and bias
// in the flat parameter buffer.
type clayer struct{ in, out, w, b int }

// cconv is one convolution of the CNN torso.
type cconv struct {
	clayer // out = channels out, in = channels in·k·k; w, b offsets
	geom   cuda.Conv
}

var _ Snapshotter = (*cudaBackend)(nil)

// cudaBackend implements Backend on a GPU; see the file comment.
type cudaBackend struct {
	spec  Spec
	dev   *cuda.Device
	shape [][]int // per parameter
	offs  []int   // per parameter, in float32s
	total int     // float32s in all parameters
	logSO int     // offset of log_std, -1 when Discrete
	mlp   [2][]clayer
	conv  []cconv // the CNN torso, nil for MLPs
	fc    clayer  // the CNN's 512-unit Linear
	act   cuda.Act

	// Device state, flat in Params order.
	p, g, m, v cuda.Buffer
	// snap holds the last Snapshot: parameters, then m, then v, each
	// total float32s; snapT is its Adam step count.
	snap    cuda.Buffer
	snapT   int
	hasSnap bool
	// Host mirrors: optimizer.pdata/gdata and opt.m/opt.v are views of these.
	hp, hg, hm, hv []float32
	optimizer

	devNewer    bool // the device's parameters changed since the host mirror
	momNewer    bool // the device's Adam moments changed since the host mirror
	gradStale   bool // the host gradient mirror is older than the device's
	hostParams  bool // Params was called: the host parameters may have been written
	hostMoments bool // AdamState was called: the host moments may have been written

	ws    cudaWork
	pin   pinned
	rollN int // samples in the device rollout
	roll  struct{ obs, act, scal cuda.Buffer }
	stage []float32 // host staging for Grad's and SetRollout's per-sample scalars
	stats cuda.LossStats
}

// pinned is the page-locked staging of the per-step and per-minibatch
// copies, sized with the workspace: views of one cuda.HostBuffer.
type pinned struct {
	buf    cuda.HostBuffer
	obs    []float32 // Forward's observations, [rows, ObsDim]
	out    []float32 // Forward's outputs: [r, ActDim] then [r] (cudaWork.head)
	params []float32 // the parameters, read back after an update
	idx    []int32   // GradMinibatch's indices, [rows]
}

// cudaWork is the device workspace for up to rows samples.
type cudaWork struct {
	rows int
	bufs []cuda.Buffer
	x    cuda.Ptr // [rows, ObsDim] network input
	act  cuda.Ptr // [rows, ActDim] (or [rows]) actions
	scal cuda.Ptr // [rows, cuda.ScalarsPerSample]: old log-prob, advantage, return, old value
	idx  cuda.Ptr // [rows] int32 minibatch indices
	// MLP: per net, per hidden layer [rows, width] activations.
	h [2][]cuda.Ptr
	// head holds the networks' outputs for r rows: the policy's [r,
	// ActDim], then the values [r] (heads), so that Forward reads both
	// with one copy.
	head cuda.Ptr
	// Backward.
	dA, dB cuda.Ptr // [rows, maxWidth] ping-pong
	dHead  cuda.Ptr // [rows, ActDim]
	dV     cuda.Ptr // [rows]
	stats  cuda.Ptr // [rows, cuda.StatsPerSample] float64
	dls    cuda.Ptr // [rows, ActDim] float64
	dlsSum cuda.Ptr // [ActDim] float64
	// CNN: per convolution its column matrix, output and their gradients.
	col, z, dcol, dz []cuda.Ptr
	flat, hid, dflat cuda.Ptr
}

// NewCUDA builds the policy and value networks described by spec on the GPU
// opts selects (device, libraries, TF32). Equal seeds give the same initial
// networks as [NewNative] (MLPs) and [NewGorgonia] (Spec.Image). Without a
// usable GPU it fails with the driver's error (cuda.IsNoDevice).
func NewCUDA(spec Spec, seed uint64, adam AdamConfig, opts cuda.Options) (Backend, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	adam = adam.withDefaults()
	if err := adam.validate(); err != nil {
		return nil, err
	}
	// The reference initialisation, taken before touching the GPU so that
	// spec errors come first.
	var ref Backend
	var err error
	if spec.IsImage() {
		ref, err = NewGorgonia(spec, seed, adam)
	} else {
		ref, err = NewNative(spec, seed, adam)
	}
	spec = spec.withDefaults()
	if err != nil {
		return nil, err
	}
	params := ref.Params()
	defer ref.Close()

	dev, err := cuda.Open(opts)
	if err != nil {
		return nil, err
	}
	b := &cudaBackend{spec: spec, dev: dev, logSO: -1, act: cuda.ActTanh}
	if spec.Activation == ActReLU {
		b.act = cuda.ActReLU
	}
	if err := b.layout(params); err != nil {
		dev.Close()
		return nil, err
	}
	if err := b.allocState(params, adam); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// layout records the parameters' offsets and the layers that use them.
func (b *cudaBackend) layout(params []Param) error {
	off := map[string]int{}
	for _, p := range params {
		n := len(p.Data)
		b.names = append(b.names, p.Name)
		b.shape = append(b.shape, append([]int(nil), p.Shape...))
		b.offs = append(b.offs, b.total)
		off[p.Name] = b.total
		b.total += n
	}
	linear := func(name string, in, out int) clayer {
		return clayer{in: in, out: out, w: off[name+".weight"], b: off[name+".bias"]}
	}
	s := b.spec
	if s.IsImage() {
		c, h, w := s.Image[0], s.Image[1], s.Image[2]
		in := c
		for i, cv := range cnnConvs {
			oh, ow := convOut(h, cv.kernel, cv.stride), convOut(w, cv.kernel, cv.stride)
			l := linear(fmt.Sprintf("torso.%d", 2*i), in*cv.kernel*cv.kernel, cv.out)
			b.conv = append(b.conv, cconv{clayer: l, geom: cuda.Conv{C: in, H: h, W: w, K: cv.kernel, S: cv.stride,
				OH: oh, OW: ow, NHWC: i > 0}})
			h, w, in = oh, ow, cv.out
		}
		b.fc = linear(fmt.Sprintf("torso.%d", 2*len(cnnConvs)+1), in*h*w, cnnHidden)
		b.mlp[0] = []clayer{linear("actor", cnnHidden, s.ActDim)}
		b.mlp[1] = []clayer{linear("critic", cnnHidden, 1)}
		b.act = cuda.ActReLU
		return nil
	}
	for k, prefix := range [2]string{"policy", "value"} {
		sizes := append(append([]int{s.ObsDim}, s.Hidden...), s.ActDim)
		if k == 1 {
			sizes[len(sizes)-1] = 1
		}
		for l := 0; l+1 < len(sizes); l++ {
			b.mlp[k] = append(b.mlp[k], linear(fmt.Sprintf("%s.%d", prefix, 2*l), sizes[l], sizes[l+1]))
		}
	}
	if !s.Discrete {
		b.logSO = off["policy.log_std"]
	}
	return nil
}

// allocState allocates the device and host state and uploads params.
func (b *cudaBackend) allocState(params []Param, adam AdamConfig) error {
	for _, buf := range []*cuda.Buffer{&b.p, &b.g, &b.m, &b.v} {
		var err error
		if *buf, err = b.dev.Alloc(4 * b.total); err != nil {
			return err
		}
	}
	b.hp, b.hg = make([]float32, b.total), make([]float32, b.total)
	b.hm, b.hv = make([]float32, b.total), make([]float32, b.total)
	b.opt = &adamState{cfg: adam}
	for i, p := range params {
		o, n := b.offs[i], len(p.Data)
		copy(b.hp[o:o+n], p.Data)
		b.pdata = append(b.pdata, b.hp[o:o+n:o+n])
		b.gdata = append(b.gdata, b.hg[o:o+n:o+n])
		b.opt.m = append(b.opt.m, b.hm[o:o+n:o+n])
		b.opt.v = append(b.opt.v, b.hv[o:o+n:o+n])
	}
	if err := b.dev.Upload(b.p.Ptr, b.hp); err != nil {
		return err
	}
	if err := b.dev.Zero(b.m.Ptr, b.total); err != nil {
		return err
	}
	if err := b.dev.Zero(b.v.Ptr, b.total); err != nil {
		return err
	}
	return b.dev.Zero(b.g.Ptr, b.total)
}

// Spec returns the network description with defaults filled in.
func (b *cudaBackend) Spec() Spec {
	s := b.spec
	s.Hidden = append([]int(nil), s.Hidden...)
	return s
}

// DeviceName describes the GPU the backend runs on and its free memory
// now, for logs and benchmark records.
func (b *cudaBackend) DeviceName() string {
	name := b.dev.Info().String()
	if free, _, err := b.dev.MemInfo(); err == nil {
		name += fmt.Sprintf(", %.1f GiB free", float64(free)/(1<<30))
	}
	return name
}

// paramList returns Params-shaped entries aliasing bufs.
func (b *cudaBackend) paramList(bufs [][]float32) []Param {
	out := make([]Param, len(b.names))
	for i, name := range b.names {
		out[i] = Param{Name: name, Shape: append([]int(nil), b.shape[i]...), Data: bufs[i]}
	}
	return out
}

// pull refreshes the host mirror of the parameters when the device is
// newer, and that of Adam's moments too when moments is set.
func (b *cudaBackend) pull(moments bool) error {
	if b.devNewer {
		if err := b.dev.Download(b.hp, b.p.Ptr); err != nil {
			return fmt.Errorf("nn: reading the parameters back from the GPU: %w", err)
		}
		b.devNewer = false
	}
	if moments && b.momNewer {
		if err := errors.Join(b.dev.Download(b.hm, b.m.Ptr), b.dev.Download(b.hv, b.v.Ptr)); err != nil {
			return fmt.Errorf("nn: reading Adam's moments back from the GPU: %w", err)
		}
		b.momNewer = false
	}
	return nil
}

// push uploads host mirrors that callers may have written.
func (b *cudaBackend) push() error {
	if b.hostParams {
		if err := b.dev.Upload(b.p.Ptr, b.hp); err != nil {
			return err
		}
		b.hostParams = false
	}
	if b.hostMoments {
		if err := b.dev.Upload(b.m.Ptr, b.hm); err != nil {
			return err
		}
		if err := b.dev.Upload(b.v.Ptr, b.hv); err != nil {
			return err
		}
		b.hostMoments = false
	}
	return nil
}

// Params lists the parameters. Data holds a host copy, current at the call
// and after each Forward; writes to it reach the GPU before the next
// computation.
func (b *cudaBackend) Params() []Param {
	if b.closed {
		return b.paramList(b.pdata)
	}
	if err := b.pull(false); err != nil {
		// Params cannot fail; the next device call reports the error again.
		return b.paramList(b.pdata)
	}
	b.hostParams = true
	return b.paramList(b.pdata)
}

// Grads lists a host copy of the stored gradient (after Step, the clipped
// one).
func (b *cudaBackend) Grads() []Param {
	if !b.closed && b.gradStale {
		if err := b.dev.Download(b.hg, b.g.Ptr); err == nil {
			b.gradStale = false
		}
	}
	return b.paramList(b.gdata)
}

// AdamState returns host copies of Adam's moments (written back to the GPU
// before the next Step) and the step count.
func (b *cudaBackend) AdamState() (m, v []Param, t int) {
	if !b.closed && b.pull(true) == nil {
		b.hostMoments = true
	}
	return b.paramList(b.opt.m), b.paramList(b.opt.v), b.opt.t
}

// SetAdamState copies checkpointed Adam moments and step count.
func (b *cudaBackend) SetAdamState(m, v [][]float32, t int) error {
	if b.closed {
		return errors.New("nn: SetAdamState: backend is closed")
	}
	if err := b.opt.set(m, v, t, b.names); err != nil {
		return err
	}
	b.hostMoments, b.momNewer = true, false
	return b.push()
}

// Snapshot copies the parameters and Adam's moments aside on the GPU
// (Snapshotter): nothing crosses to the host.
func (b *cudaBackend) Snapshot() error {
	if b.closed {
		return errors.New("nn: Snapshot: backend is closed")
	}
	if err := b.push(); err != nil {
		return fmt.Errorf("nn: Snapshot on the GPU: %w", err)
	}
	if b.snap.Ptr == 0 {
		buf, err := b.dev.Alloc(3 * 4 * b.total)
		if err != nil {
			return fmt.Errorf("nn: Snapshot: room for the parameters and Adam's moments on the GPU: %w", err)
		}
		b.snap = buf
	}
	for i, src := range [3]cuda.Ptr{b.p.Ptr, b.m.Ptr, b.v.Ptr} {
		if err := b.dev.Copy(b.snap.Ptr.F32(i*b.total), src, 4*b.total); err != nil {
			return fmt.Errorf("nn: Snapshot on the GPU: %w", err)
		}
	}
	b.snapT, b.hasSnap = b.opt.t, true
	return nil
}

// Snapshotted downloads the last Snapshot (Snapshotter).
func (b *cudaBackend) Snapshotted() (params, m, v []Param, t int, err error) {
	switch {
	case b.closed:
		return nil, nil, nil, 0, errors.New("nn: Snapshotted: backend is closed")
	case !b.hasSnap:
		return nil, nil, nil, 0, errors.New("nn: Snapshotted: no Snapshot taken")
	}
	host := make([]float32, 3*b.total)
	if err := b.dev.Download(host, b.snap.Ptr); err != nil {
		return nil, nil, nil, 0, fmt.Errorf("nn: reading the snapshot back from the GPU: %w", err)
	}
	var lists [3][]Param
	for k := range lists {
		data := make([][]float32, len(b.offs))
		for i, o := range b.offs {
			n := len(b.pdata[i])
			data[i] = host[k*b.total+o : k*b.total+o+n : k*b.total+o+n]
		}
		lists[k] = b.paramList(data)
	}
	return lists[0], lists[1], lists[2], b.snapT, nil
}

// Close releases the GPU; later calls fail.
func (b *cudaBackend) Close() error {
	if b.closed {
		return nil
	}
	// Keep the host copies current for readers of earlier Params slices.
	pullErr := b.pull(true)
	b.closed = true
	return errors.Join(pullErr, b.dev.Close())
}

// ensure sizes the workspace and the page-locked staging for rows
// samples.
func (b *cudaBackend) ensure(rows int) error {
	if b.ws.rows >= rows && len(b.pin.idx) >= rows {
		return nil
	}
	var freeErr error
	for _, buf := range b.ws.bufs {
		freeErr = errors.Join(freeErr, b.dev.Free(buf))
	}
	b.ws = cudaWork{}
	if freeErr != nil {
		return fmt.Errorf("nn: releasing the GPU workspace: %w", freeErr)
	}
	s := b.spec
	w := cudaWork{rows: rows}
	var err error
	alloc := func(elems, size int) cuda.Ptr {
		if err != nil {
			return 0
		}
		var buf cuda.Buffer
		buf, err = b.dev.Alloc(max(elems, 1) * size)
		w.bufs = append(w.bufs, buf)
		return buf.Ptr
	}
	f32 := func(elems int) cuda.Ptr { return alloc(elems, 4) }
	A, aw := s.ActDim, s.ActDim
	if s.Discrete {
		aw = 1
	}
	w.x, w.act, w.scal, w.idx = f32(rows*s.ObsDim), f32(rows*aw), f32(rows*cuda.ScalarsPerSample), f32(rows)
	w.head = f32(rows * (A + 1))
	w.dHead, w.dV = f32(rows*A), f32(rows)
	w.stats, w.dls, w.dlsSum = alloc(rows*cuda.StatsPerSample, 8), alloc(rows*A, 8), alloc(A, 8)
	maxW := A
	if b.conv == nil {
		for k := range b.mlp {
			for l, ly := range b.mlp[k] {
				maxW = max(maxW, ly.in, ly.out)
				if l+1 < len(b.mlp[k]) {
					w.h[k] = append(w.h[k], f32(rows*ly.out))
				}
			}
		}
	} else {
		for i, cv := range b.conv {
			r := rows * cv.geom.OH * cv.geom.OW
			w.col = append(w.col, f32(r*cv.in))
			w.z = append(w.z, f32(r*cv.out))
			dcol := cuda.Ptr(0) // the observations need no gradient
			if i > 0 {
				dcol = f32(r * cv.in)
			}
			w.dcol = append(w.dcol, dcol)
			w.dz = append(w.dz, f32(r*cv.out))
		}
		w.flat, w.dflat = f32(rows*b.fc.in), f32(rows*b.fc.in)
		w.hid = f32(rows * cnnHidden)
		maxW = max(maxW, cnnHidden)
	}
	w.dA, w.dB = f32(rows*maxW), f32(rows*maxW)
	if err != nil {
		for _, buf := range w.bufs {
			err = errors.Join(err, b.dev.Free(buf))
		}
		return fmt.Errorf("nn: GPU workspace for %d samples: %w", rows, err)
	}
	b.ws = w
	return b.ensurePinned(rows)
}

// ensurePinned sizes the page-locked staging for rows samples.
func (b *cudaBackend) ensurePinned(rows int) error {
	s := b.spec
	nObs, nOut := rows*s.ObsDim, rows*(s.ActDim+1)
	if err := b.dev.FreeHost(b.pin.buf); err != nil {
		return fmt.Errorf("nn: releasing the GPU's host staging: %w", err)
	}
	b.pin = pinned{}
	buf, err := b.dev.AllocHost(4 * (nObs + nOut + b.total + rows))
	if err != nil {
		return fmt.Errorf("nn: host staging for %d samples: %w", rows, err)
	}
	b.pin = pinned{buf: buf, obs: buf.Float32s(0, nObs), out: buf.Float32s(4*nObs, nOut),
		params: buf.Float32s(4*(nObs+nOut), b.total), idx: buf.Int32s(4*(nObs+nOut+b.total), rows)}
	return nil
}

// heads returns where the policy outputs [r, ActDim] and the values [r]
// of r rows lie in the workspace.
func (b *cudaBackend) heads(r int) (dist, value cuda.Ptr) {
	return b.ws.head, b.ws.head.F32(r * b.spec.ActDim)
}

// P returns the device address of the parameter element at offset off;
// G the same in the gradient.
func (b *cudaBackend) P(off int) cuda.Ptr { return b.p.Ptr.F32(off) }
func (b *cudaBackend) G(off int) cuda.Ptr { return b.g.Ptr.F32(off) }

// linear queues dst [r, out] = act(h [r, in]·Wᵀ + bias).
func (b *cudaBackend) linear(ly clayer, h cuda.Ptr, r int, dst cuda.Ptr, act cuda.Act) error {
	if err := b.dev.Gemm(false, true, r, ly.out, ly.in, 1, h, b.P(ly.w), 0, dst); err != nil {
		return err
	}
	return b.dev.BiasAct(dst, b.P(ly.b), r, ly.out, act)
}

// forward queues the networks on the r inputs at ws.x, leaving the heads'
// outputs in ws.head and, for backward, every activation in the workspace.
func (b *cudaBackend) forward(r int) error {
	ws := &b.ws
	if b.conv != nil {
		return b.cnnForward(r)
	}
	dist, value := b.heads(r)
	for k, layers := range b.mlp {
		h := ws.x
		for l, ly := range layers {
			if l+1 == len(layers) {
				out := dist
				if k == 1 {
					out = value
				}
				if err := b.linear(ly, h, r, out, cuda.ActNone); err != nil {
					return err
				}
				break
			}
			if err := b.linear(ly, h, r, ws.h[k][l], b.act); err != nil {
				return err
			}
			h = ws.h[k][l]
		}
	}
	return nil
}

// cnnForward is forward for the Nature-CNN.
func (b *cudaBackend) cnnForward(r int) error {
	ws := &b.ws
	x := ws.x
	for i, cv := range b.conv {
		g := cv.geom
		g.N = r
		if err := b.dev.Im2Col(x, ws.col[i], g); err != nil {
			return err
		}
		if err := b.linear(cv.clayer, ws.col[i], r*g.OH*g.OW, ws.z[i], cuda.ActReLU); err != nil {
			return err
		}
		x = ws.z[i]
	}
	last := b.conv[len(b.conv)-1]
	// [r, oh·ow, C] (NHWC) -> [r, C, oh·ow]: PyTorch's flatten order.
	if err := b.dev.Transpose(x, ws.flat, r, last.geom.OH*last.geom.OW, last.out); err != nil {
		return err
	}
	if err := b.linear(b.fc, ws.flat, r, ws.hid, cuda.ActReLU); err != nil {
		return err
	}
	dist, value := b.heads(r)
	for k, out := range [2]cuda.Ptr{dist, value} {
		if err := b.linear(b.mlp[k][0], ws.hid, r, out, cuda.ActNone); err != nil {
			return err
		}
	}
	return nil
}

// Forward evaluates n observations on the GPU.
func (b *cudaBackend) Forward(obs []float32, n int, dist, values []float32) error {
	if err := b.spec.checkForward(b.closed, obs, n, dist, values); err != nil {
		return err
	}
	if err := b.run(n, func() error { return b.forwardStaged(obs, n, dist, values) }); err != nil {
		return fmt.Errorf("nn: Forward (n = %d) on the GPU: %w", n, err)
	}
	return nil
}

// forwardStaged is Forward's device work: one upload and one download
// through the page-locked staging, and one wait (see "Transfers per step
// and per update"). When an update made the device's parameters newer, it
// downloads them too, in the same wait, to keep the host copies current
// for callers holding Params slices (the trainer samples with log_std).
func (b *cudaBackend) forwardStaged(obs []float32, n int, dist, values []float32) error {
	if err := b.dev.SyncPinned(); err != nil { // before writing the staging
		return err
	}
	x := b.pin.obs[:len(obs)]
	copy(x, obs)
	if err := b.dev.UploadAsync(b.ws.x, x); err != nil {
		return err
	}
	if err := b.forward(n); err != nil {
		return err
	}
	out := b.pin.out[:len(dist)+len(values)]
	if err := b.dev.DownloadAsync(out, b.ws.head); err != nil {
		return err
	}
	params := b.devNewer
	if params {
		if err := b.dev.DownloadAsync(b.pin.params, b.p.Ptr); err != nil {
			return err
		}
	}
	if err := b.dev.SyncPinned(); err != nil { // before reading it
		return err
	}
	copy(dist, out)
	copy(values, out[len(dist):])
	if params {
		copy(b.hp, b.pin.params)
		b.devNewer = false
	}
	return nil
}

// run sizes the workspace, uploads host-written state and runs f.
func (b *cudaBackend) run(rows int, f func() error) error {
	if err := b.ensure(rows); err != nil {
		return err
	}
	if err := b.push(); err != nil {
		return err
	}
	return f()
}

// stageScalars interleaves the per-sample scalars of bt into b.stage as
// [N, cuda.ScalarsPerSample] rows: old log-prob, advantage, return, old
// value.
func (b *cudaBackend) stageScalars(bt Batch) []float32 {
	const w = cuda.ScalarsPerSample
	n := bt.N
	if cap(b.stage) < w*n {
		b.stage = make([]float32, w*n)
	}
	st := b.stage[:w*n]
	for i := 0; i < n; i++ {
		v := float32(0)
		if bt.Values != nil {
			v = bt.Values[i]
		}
		row := st[w*i : w*i+w]
		row[cuda.ScalarOldLogProb], row[cuda.ScalarAdvantage] = bt.LogProbs[i], bt.Advantages[i]
		row[cuda.ScalarReturn], row[cuda.ScalarOldValue] = bt.Returns[i], v
	}
	return st
}

// Grad computes the PPO loss over the batch and stores its gradient.
func (b *cudaBackend) Grad(bt Batch, c LossConfig) (LossStats, error) {
	if b.closed {
		return LossStats{}, errors.New("nn: Grad: backend is closed")
	}
	if err := b.spec.checkBatch("Grad", bt, c); err != nil {
		return LossStats{}, err
	}
	n := bt.N
	st, err := b.gradRun(n, c, func() error {
		if err := b.dev.Upload(b.ws.x, bt.Obs); err != nil {
			return err
		}
		if err := b.dev.Upload(b.ws.act, bt.Actions); err != nil {
			return err
		}
		return b.dev.Upload(b.ws.scal, b.stageScalars(bt))
	})
	if err != nil {
		return st, fmt.Errorf("nn: Grad (N = %d) on the GPU: %w", n, err)
	}
	return st, nil
}

// SetRollout copies the rollout to the GPU for GradMinibatch.
func (b *cudaBackend) SetRollout(ro Batch) error {
	if b.closed {
		return errors.New("nn: SetRollout: backend is closed")
	}
	if err := b.spec.checkRollout(ro); err != nil {
		return err
	}
	aw := b.spec.ActDim
	if b.spec.Discrete {
		aw = 1
	}
	n := ro.N
	b.rollN = 0
	for _, x := range []struct {
		buf  *cuda.Buffer
		elem int
	}{{&b.roll.obs, n * b.spec.ObsDim}, {&b.roll.act, n * aw}, {&b.roll.scal, n * cuda.ScalarsPerSample}} {
		if x.buf.Bytes < 4*x.elem {
			err := b.dev.Free(*x.buf)
			*x.buf = cuda.Buffer{}
			if err != nil {
				return fmt.Errorf("nn: SetRollout: %w", err)
			}
			buf, err := b.dev.Alloc(4 * x.elem)
			if err != nil {
				return fmt.Errorf("nn: SetRollout: %d samples on the GPU: %w", n, err)
			}
			*x.buf = buf
		}
	}
	if err := errors.Join(b.dev.Upload(b.roll.obs.Ptr, ro.Obs), b.dev.Upload(b.roll.act.Ptr, ro.Actions),
		b.dev.Upload(b.roll.scal.Ptr, b.stageScalars(ro))); err != nil {
		return fmt.Errorf("nn: SetRollout: %w", err)
	}
	b.rollN = n
	return nil
}

// GradMinibatch gathers the samples idx of the rollout on the GPU and runs
// Grad on them.
func (b *cudaBackend) GradMinibatch(idx []int, normAdv bool, c LossConfig) (LossStats, error) {
	if b.closed {
		return LossStats{}, errors.New("nn: GradMinibatch: backend is closed")
	}
	if err := checkIndices(idx, b.rollN); err != nil {
		return LossStats{}, err
	}
	if err := c.check("GradMinibatch"); err != nil {
		return LossStats{}, err
	}
	n := len(idx)
	aw := b.spec.ActDim
	if b.spec.Discrete {
		aw = 1
	}
	st, err := b.gradRun(n, c, func() error {
		ws := &b.ws
		if err := b.dev.SyncPinned(); err != nil { // before writing the staging
			return err
		}
		staged := b.pin.idx[:n]
		for i, k := range idx {
			staged[i] = int32(k)
		}
		if err := b.dev.UploadInt32Async(ws.idx, staged); err != nil {
			return err
		}
		if err := b.dev.GatherRows(ws.x, b.roll.obs.Ptr, ws.idx, n, b.spec.ObsDim); err != nil {
			return err
		}
		if err := b.dev.GatherRows(ws.act, b.roll.act.Ptr, ws.idx, n, aw); err != nil {
			return err
		}
		if err := b.dev.GatherRows(ws.scal, b.roll.scal.Ptr, ws.idx, n, cuda.ScalarsPerSample); err != nil {
			return err
		}
		if normAdv {
			return b.dev.NormalizeColumn(ws.scal.F32(cuda.ScalarAdvantage), n, cuda.ScalarsPerSample)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("nn: GradMinibatch (N = %d) on the GPU: %w", n, err)
	}
	return st, nil
}

// gradRun loads a minibatch of n samples with load, then queues the
// forward pass, the loss and the backward pass, and reads the statistics.
func (b *cudaBackend) gradRun(n int, c LossConfig, load func() error) (LossStats, error) {
	if c.ImitationCoef != 0 {
		return LossStats{}, errNoImitation("cuda")
	}
	b.hasGrad = false
	err := b.run(n, func() error {
		if err := load(); err != nil {
			return err
		}
		if err := b.forward(n); err != nil {
			return err
		}
		ws := &b.ws
		logStd, gLogStd := cuda.Ptr(0), cuda.Ptr(0)
		if !b.spec.Discrete {
			logStd, gLogStd = b.P(b.logSO), b.G(b.logSO)
		}
		head, value := b.heads(n)
		if err := b.dev.PPOLossGrad(cuda.PPOLoss{N: n, A: b.spec.ActDim, Discrete: b.spec.Discrete,
			Head: head, Value: value, Act: ws.act, Scalars: ws.scal, LogStd: logStd,
			ClipCoef: c.ClipCoef, VfCoef: c.VfCoef, EntCoef: c.EntCoef, ClipVLoss: c.ClipVLoss,
			DHead: ws.dHead, DValue: ws.dV, GLogStd: gLogStd, Stats: ws.stats, DLS: ws.dls, DLSSum: ws.dlsSum}); err != nil {
			return err
		}
		if b.conv != nil {
			if err := b.cnnBackward(n); err != nil {
				return err
			}
		} else {
			for k, d := range [2]cuda.Ptr{ws.dHead, ws.dV} {
				if err := b.mlpBackward(k, n, d); err != nil {
					return err
				}
			}
		}
		var err error
		b.stats, err = b.dev.Stats()
		return err
	})
	if err != nil {
		return LossStats{}, err
	}
	b.hasGrad, b.gradStale = true, true
	s := b.stats
	return LossStats{Loss: s[cuda.LossTotal], PolicyLoss: s[cuda.LossPolicy], ValueLoss: s[cuda.LossValue],
		Entropy: s[cuda.LossEntropy], ApproxKL: s[cuda.LossKL], ClipFrac: s[cuda.LossClipFrac]}, nil
}

// linearBackward queues the weight and bias gradients of ly from dz [r,
// out] and its input h [r, in], and, when dh is not 0, dh = dz·W.
func (b *cudaBackend) linearBackward(ly clayer, dz, h cuda.Ptr, r int, dh cuda.Ptr, beta float32) error {
	if err := b.dev.Gemm(true, false, ly.out, ly.in, r, 1, dz, h, 0, b.G(ly.w)); err != nil {
		return err
	}
	if err := b.dev.ColSum(dz, r, ly.out, ly.out, b.G(ly.b)); err != nil {
		return err
	}
	if dh == 0 {
		return nil
	}
	return b.dev.Gemm(false, false, r, ly.in, ly.out, 1, dz, b.P(ly.w), beta, dh)
}

// mlpBackward back-propagates dOut [r, outDim] through MLP k.
func (b *cudaBackend) mlpBackward(k, r int, dOut cuda.Ptr) error {
	ws := &b.ws
	layers := b.mlp[k]
	dz := dOut
	for l := len(layers) - 1; l >= 0; l-- {
		ly := layers[l]
		in, dh := ws.x, cuda.Ptr(0)
		if l > 0 {
			in = ws.h[k][l-1]
			dh = ws.dA
			if dz == ws.dA {
				dh = ws.dB
			}
		}
		if err := b.linearBackward(ly, dz, in, r, dh, 0); err != nil {
			return err
		}
		if l == 0 {
			return nil
		}
		if err := b.dev.ActBack(dh, ws.h[k][l-1], r*ly.in, b.act); err != nil {
			return err
		}
		dz = dh
	}
	return nil
}

// cnnBackward back-propagates both heads through the shared CNN torso.
func (b *cudaBackend) cnnBackward(r int) error {
	ws := &b.ws
	dhid := ws.dA
	if err := b.linearBackward(b.mlp[0][0], ws.dHead, ws.hid, r, dhid, 0); err != nil {
		return err
	}
	if err := b.linearBackward(b.mlp[1][0], ws.dV, ws.hid, r, dhid, 1); err != nil {
		return err
	}
	if err := b.dev.ActBack(dhid, ws.hid, r*cnnHidden, cuda.ActReLU); err != nil {
		return err
	}
	if err := b.linearBackward(b.fc, dhid, ws.flat, r, ws.dflat, 0); err != nil {
		return err
	}
	li := len(b.conv) - 1
	last := b.conv[li]
	if err := b.dev.Transpose(ws.dflat, ws.dz[li], r, last.out, last.geom.OH*last.geom.OW); err != nil {
		return err
	}
	for i := li; i >= 0; i-- {
		cv := b.conv[i]
		g := cv.geom
		g.N = r
		rows := r * g.OH * g.OW
		if err := b.dev.ActBack(ws.dz[i], ws.z[i], rows*cv.out, cuda.ActReLU); err != nil {
			return err
		}
		dcol := cuda.Ptr(0)
		if i > 0 {
			dcol = ws.dcol[i]
		}
		if err := b.linearBackward(cv.clayer, ws.dz[i], ws.col[i], rows, dcol, 0); err != nil {
			return err
		}
		if i > 0 {
			if err := b.dev.Col2Im(dcol, ws.dz[i-1], g); err != nil {
				return err
			}
		}
	}
	return nil
}

// Step clips the stored gradient and applies one Adam step on the GPU.
func (b *cudaBackend) Step(lr, maxGradNorm float32) (float32, error) {
	if b.closed {
		return 0, errors.New("nn: Step: backend is closed")
	}
	if !b.hasGrad {
		return 0, errors.New("nn: Step: no gradient stored; call Grad first")
	}
	if err := checkStepArgs(lr, maxGradNorm); err != nil {
		return 0, err
	}
	if err := b.push(); err != nil {
		return 0, fmt.Errorf("nn: Step on the GPU: %w", err)
	}
	k := b.opt.cfg.coefs(b.opt.t+1, lr)
	norm, err := b.dev.AdamStep(cuda.Adam{N: b.total, Params: b.p.Ptr, Grads: b.g.Ptr, M: b.m.Ptr, V: b.v.Ptr,
		Beta1: k.b1, Beta2: k.b2, Eps: k.eps, StepSize: k.stepSize, SqrtBC2: k.sqrtBC2, MaxNorm: float64(maxGradNorm)})
	if err != nil {
		return 0, fmt.Errorf("nn: Step on the GPU: %w", err)
	}
	if err := checkNorm(norm); err != nil {
		return float32(norm), err
	}
	b.opt.t++
	b.devNewer, b.momNewer, b.gradStale = true, true, true
	return float32(norm), nil
}
