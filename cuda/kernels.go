//go:build ultracuda

package cuda

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// fatbin holds the kernels of kernels/kernels.cu compiled by `make
// cuda-kernels` (see KernelArchs); kernels/ultra.fatbin.sha256 records the
// SHA-256 of the sources it was built from, and a test fails when they
// drift.
//
//go:embed kernels/ultra.fatbin
var fatbin []byte

// KernelArchs is what the embedded fatbin holds: SASS for sm_80 (A100, and
// by binary compatibility every 8.x GPU) and sm_90 (H100/H200), and
// compute_90 PTX that newer GPUs compile at load time.
const KernelArchs = "sm_80 and sm_90 SASS, compute_90 PTX"

// Kernel indices, in the order of kernels/list.h.
const (
	kBiasAct = iota
	kActBack
	kColsumF
	kColsumFD
	kColsumD
	kGatherRows
	kSqdev
	kAdvNorm
	kPPOLoss
	kLossFinish
	kSumsq
	kAdam
	kIm2col
	kCol2im
	kTranspose
	numKernels
)

// kernelNames are the kernels' symbols, indexed by the constants above.
var kernelNames = [numKernels]string{
	"ultra_bias_act", "ultra_act_back", "ultra_colsum_f", "ultra_colsum_fd", "ultra_colsum_d",
	"ultra_gather_rows", "ultra_sqdev", "ultra_adv_norm", "ultra_ppo_loss", "ultra_loss_finish",
	"ultra_sumsq", "ultra_adam", "ultra_im2col", "ultra_col2im", "ultra_transpose",
}

// blockSize is the threads per block of every launch.
const blockSize = 256

// scalarSlots is the number of float64 slots in Device.scalarsF64: results
// of reductions the host reads or later kernels use.
const scalarSlots = 64

// Slots of Device.scalarsF64.
const (
	slotSumsq   = 0
	slotAdvSum  = 1
	slotAdvSq   = 2
	slotLossOut = 8                          // NumLossStats values
	slotStats   = slotLossOut + NumLossStats // StatsPerSample values
)

// Layouts shared with the kernels. Their one source is kernels/ops.cuh
// (its enums ST_*, LS_* and ACT_*) and ultra_ppo_loss in kernels.cu (the
// stride and columns of its per-sample scalars); TestLayoutMatchesKernels
// parses both and fails when the Go side drifts from them.
const (
	// StatsPerSample is the width of a PPOLoss.Stats row (ST_N).
	StatsPerSample = 5
	// ScalarsPerSample is the width of a PPOLoss.Scalars row, and
	// ScalarOldLogProb, ScalarAdvantage, ScalarReturn and ScalarOldValue
	// are its columns.
	ScalarsPerSample = 4
	ScalarOldLogProb = 0
	ScalarAdvantage  = 1
	ScalarReturn     = 2
	ScalarOldValue   = 3
)

// Indices of LossStats (LS_*), in nn.LossStats order.
const (
	LossTotal    = iota // LS_LOSS: the minimised loss
	LossPolicy          // LS_PG: the clipped policy-gradient loss
	LossValue           // LS_VLOSS: the value loss
	LossEntropy         // LS_ENT: the mean entropy
	LossKL              // LS_KL: approx-KL
	LossClipFrac        // LS_CLIPFRAC: the fraction of samples clipped
	NumLossStats        // LS_N
)

// argBuf packs kernel arguments as the driver expects them in
// CU_LAUNCH_PARAM_BUFFER_POINTER: each at its natural alignment.
type argBuf struct {
	b [512]byte
	n int
}

func (a *argBuf) reset() *argBuf { a.n = 0; return a }

func (a *argBuf) align(k int) { a.n = (a.n + k - 1) / k * k }

func (a *argBuf) ptr(p Ptr) *argBuf {
	a.align(8)
	binary.LittleEndian.PutUint64(a.b[a.n:], uint64(p))
	a.n += 8
	return a
}

func (a *argBuf) i32(v int) *argBuf {
	a.align(4)
	binary.LittleEndian.PutUint32(a.b[a.n:], uint32(int32(v)))
	a.n += 4
	return a
}

func (a *argBuf) i64(v int) *argBuf {
	a.align(8)
	binary.LittleEndian.PutUint64(a.b[a.n:], uint64(int64(v)))
	a.n += 8
	return a
}

func (a *argBuf) f32(v float32) *argBuf {
	a.align(4)
	binary.LittleEndian.PutUint32(a.b[a.n:], math.Float32bits(v))
	a.n += 4
	return a
}

func (a *argBuf) f64(v float64) *argBuf {
	a.align(8)
	binary.LittleEndian.PutUint64(a.b[a.n:], math.Float64bits(v))
	a.n += 8
	return a
}

// run launches kernel k over total independent elements (grid-stride, so
// the grid is capped at 32 blocks per SM) with the packed arguments.
func (d *Device) run(k int, total int64) error {
	if d.closed {
		return errClosed
	}
	if total <= 0 {
		return nil
	}
	grid := (total + blockSize - 1) / blockSize
	grid = min(grid, int64(max(1, d.info.SMs)*32))
	if err := d.s.launch(d.fns[k], kernelNames[k], int(grid), blockSize, d.args.b[:d.args.n]); err != nil {
		return err
	}
	return d.waitIfSync(kernelNames[k])
}

// waitIfSync waits for the launch just queued when ULTRA_CUDA_SYNC=1 (see
// Info.Sync), so that a fault names what faulted instead of surfacing at a
// later call.
func (d *Device) waitIfSync(launch string) error {
	if !d.info.Sync {
		return nil
	}
	err := d.s.sync()
	var e *Error
	if errors.As(err, &e) {
		named := *e
		named.Launch = launch
		return &named
	}
	return err
}

// checkInt32 reports values that do not fit a kernel's int parameter.
func checkInt32(what string, vs ...int) error {
	for _, v := range vs {
		if v < 0 || v > math.MaxInt32 {
			return fmt.Errorf("cuda: %s: size %d out of range [0, 2³¹)", what, v)
		}
	}
	return nil
}

// Act is an activation function code (ops.cuh).
type Act int

// Activations.
const (
	ActNone Act = 0
	ActTanh Act = 1
	ActReLU Act = 2
)

// BiasAct sets z[r, c] = act(z[r, c] + bias[c]) over the [rows, cols]
// matrix z; bias 0 means none.
func (d *Device) BiasAct(z, bias Ptr, rows, cols int, act Act) error {
	if err := checkInt32("BiasAct", rows, cols); err != nil {
		return err
	}
	d.args.reset().ptr(z).ptr(bias).i32(rows).i32(cols).i32(int(act))
	return d.run(kBiasAct, int64(rows)*int64(cols))
}

// ActBack sets dz[i] = dz[i]·act'(y[i]) for n values, where y = act(z) is
// the activation's output.
func (d *Device) ActBack(dz, y Ptr, n int, act Act) error {
	d.args.reset().ptr(dz).ptr(y).i64(n).i32(int(act))
	return d.run(kActBack, int64(n))
}

// reducePass is the largest number of rows one reduction thread sums.
const reducePass = 64

// ColSum sets out[c] = Σ_r x[r*ld + c] for c < cols (float32 sums in
// passes of at most 64 rows per thread: deterministic, no atomics).
func (d *Device) ColSum(x Ptr, rows, cols, ld int, out Ptr) error {
	return d.colsum(kColsumF, kColsumF, 4, x, rows, cols, ld, out)
}

// ColSumF64 is ColSum with float64 accumulation and output; x holds
// float32 values, or float64 values when xF64 is set.
func (d *Device) ColSumF64(x Ptr, rows, cols, ld int, xF64 bool, out Ptr) error {
	first := kColsumFD
	if xF64 {
		first = kColsumD
	}
	return d.colsum(first, kColsumD, 8, x, rows, cols, ld, out)
}

// colsum reduces in passes: each pass sums up to reducePass rows per thread
// into ceil(rows/reducePass) partial rows, until one pass can finish.
func (d *Device) colsum(first, next, size int, x Ptr, rows, cols, ld int, out Ptr) error {
	if err := checkInt32("ColSum", cols, ld); err != nil {
		return err
	}
	if rows < 1 || cols < 1 || ld < cols {
		return fmt.Errorf("cuda: ColSum: rows %d, cols %d, ld %d: want rows, cols >= 1 and ld >= cols", rows, cols, ld)
	}
	k := first
	if rows > reducePass {
		// Scratch for two partial matrices, ping-ponged.
		p1 := (rows + reducePass - 1) / reducePass
		need := size * cols * (p1 + (p1+reducePass-1)/reducePass)
		tmp, err := d.ensureScratch(need)
		if err != nil {
			return err
		}
		bufs := [2]Ptr{tmp, tmp.Off(size * cols * p1)}
		for i := 0; rows > reducePass; i++ {
			parts := (rows + reducePass - 1) / reducePass
			dst := bufs[i%2]
			d.args.reset().ptr(x).i64(rows).i32(cols).i32(ld).i32(parts).ptr(dst)
			if err := d.run(k, int64(parts)*int64(cols)); err != nil {
				return err
			}
			x, rows, ld, k = dst, parts, cols, next
		}
	}
	d.args.reset().ptr(x).i64(rows).i32(cols).i32(ld).i32(1).ptr(out)
	return d.run(k, int64(cols))
}

// ensureScratch returns at least bytes of device scratch owned by d.
func (d *Device) ensureScratch(bytes int) (Ptr, error) {
	if d.scratch.Bytes >= bytes {
		return d.scratch.Ptr, nil
	}
	if err := d.Free(d.scratch); err != nil {
		return 0, err
	}
	d.scratch = Buffer{}
	b, err := d.Alloc(max(bytes, 1<<16))
	if err != nil {
		return 0, err
	}
	d.scratch = b
	return b.Ptr, nil
}

// GatherRows sets dst[i, :] = src[idx[i], :] for n rows of width float32
// values; idx holds n int32 row indices.
func (d *Device) GatherRows(dst, src, idx Ptr, n, width int) error {
	if err := checkInt32("GatherRows", n, width); err != nil {
		return err
	}
	d.args.reset().ptr(dst).ptr(src).ptr(idx).i32(n).i32(width)
	return d.run(kGatherRows, int64(n)*int64(width))
}

// NormalizeColumn normalises n values x[i*stride] to mean 0 and unbiased
// standard deviation 1 (+1e-8 in the denominator, CleanRL's advantage
// normalisation), with the statistics in float64.
func (d *Device) NormalizeColumn(x Ptr, n, stride int) (err error) {
	if err := checkInt32("NormalizeColumn", n, stride); err != nil {
		return err
	}
	sum, sq := d.scalarsF64.Ptr.Off(8*slotAdvSum), d.scalarsF64.Ptr.Off(8*slotAdvSq)
	if err := d.ColSumF64(x, n, 1, stride, false, sum); err != nil {
		return err
	}
	dev, err := d.Alloc(8 * n)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Free(dev)) }()
	d.args.reset().ptr(x).i32(n).i32(stride).ptr(sum).ptr(dev.Ptr)
	if err := d.run(kSqdev, int64(n)); err != nil {
		return err
	}
	if err := d.ColSumF64(dev.Ptr, n, 1, 1, true, sq); err != nil {
		return err
	}
	d.args.reset().ptr(x).i32(n).i32(stride).ptr(sum).ptr(sq)
	return d.run(kAdvNorm, int64(n))
}

// PPOLoss describes one minibatch for the per-sample PPO loss kernel.
type PPOLoss struct {
	N, A      int
	Discrete  bool
	Head      Ptr // [N, A] logits or Gaussian means
	Value     Ptr // [N]
	Act       Ptr // [N, A] actions, or [N] action indices as float32
	Scalars   Ptr // [N, ScalarsPerSample]: old log-prob, advantage, return, old value
	LogStd    Ptr // [A] (Gaussian only)
	ClipCoef  float32
	VfCoef    float32
	EntCoef   float32
	ClipVLoss bool
	// Outputs.
	DHead   Ptr // [N, A]
	DValue  Ptr // [N]
	GLogStd Ptr // [A]: log_std's gradient (Gaussian only)
	// Scratch, float64: [N, StatsPerSample] per-sample statistics; for a Gaussian also
	// [N, A] per-sample log_std gradients and their [A] sums.
	Stats, DLS, DLSSum Ptr
}

// LossStats are the minibatch's loss terms, indexed by LossTotal …
// LossClipFrac (nn.LossStats order: loss, policy loss, value loss,
// entropy, approx-KL, clip fraction).
type LossStats [NumLossStats]float64

// PPOLossGrad queues the per-sample PPO loss (ops.cuh ppo_sample) and the
// reduction of its statistics and log_std gradient; Stats then reads the
// statistics back.
func (d *Device) PPOLossGrad(l PPOLoss) error {
	if err := checkInt32("PPOLoss", l.N, l.A); err != nil {
		return err
	}
	disc := 0
	if l.Discrete {
		disc = 1
	}
	d.args.reset().i32(l.N).i32(l.A).i32(disc).ptr(l.Head).ptr(l.Value).ptr(l.Act).ptr(l.Scalars).ptr(l.LogStd).
		f64(float64(l.ClipCoef)).f64(float64(l.VfCoef)).f64(float64(l.EntCoef)).i32(b2i(l.ClipVLoss)).
		ptr(l.DHead).ptr(l.DValue).ptr(l.Stats).ptr(l.DLS)
	if err := d.run(kPPOLoss, int64(l.N)); err != nil {
		return err
	}
	sums := d.scalarsF64.Ptr.Off(8 * slotStats)
	if err := d.ColSumF64(l.Stats, l.N, StatsPerSample, StatsPerSample, true, sums); err != nil {
		return err
	}
	if !l.Discrete {
		if err := d.ColSumF64(l.DLS, l.N, l.A, l.A, true, l.DLSSum); err != nil {
			return err
		}
	}
	d.args.reset().i32(l.A).i32(disc).ptr(sums).ptr(l.DLSSum).ptr(l.LogStd).f32(l.EntCoef).f32(l.VfCoef).i32(l.N).
		ptr(l.GLogStd).ptr(d.scalarsF64.Ptr.Off(8 * slotLossOut))
	return d.run(kLossFinish, 1)
}

// Stats waits for the queued work and returns the last PPOLossGrad's
// statistics (one copy into page-locked memory, one wait).
func (d *Device) Stats() (LossStats, error) {
	var s LossStats
	err := d.readScalars(s[:], slotLossOut)
	return s, err
}

// readScalars copies len(dst) values from slot of scalarsF64 through
// scalarsHost and waits.
func (d *Device) readScalars(dst []float64, slot int) error {
	h := hostView[float64](d.scalarsHost, 8*slot, len(dst))
	if err := downloadAsync(d, h, d.scalarsF64.Ptr.Off(8*slot)); err != nil {
		return err
	}
	if err := d.SyncPinned(); err != nil {
		return err
	}
	copy(dst, h)
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Adam describes one optimizer step over n parameters stored contiguously.
type Adam struct {
	N                   int
	Params, Grads, M, V Ptr
	Beta1, Beta2, Eps   float64
	StepSize, SqrtBC2   float64 // lr/(1-β1^t) and sqrt(1-β2^t)
	MaxNorm             float64 // <= 0: no clipping
}

// AdamStep queues the global gradient norm, clipping and the Adam update
// (ops.cuh adam_elem) and returns the pre-clip norm after waiting for them.
// A non-finite norm leaves parameters, moments and gradient unchanged.
func (d *Device) AdamStep(a Adam) (float64, error) {
	sumsq := d.scalarsF64.Ptr.Off(8 * slotSumsq)
	parts := min((a.N+255)/256, 1<<16)
	if parts < 1 {
		return 0, fmt.Errorf("cuda: AdamStep: %d parameters", a.N)
	}
	if d.normPart.Bytes < 8*parts {
		if err := d.Free(d.normPart); err != nil {
			return 0, err
		}
		var err error
		if d.normPart, err = d.Alloc(8 * parts); err != nil {
			return 0, err
		}
	}
	tmp := d.normPart.Ptr
	d.args.reset().ptr(a.Grads).i64(a.N).i32(parts).ptr(tmp)
	if err := d.run(kSumsq, int64(parts)); err != nil {
		return 0, err
	}
	if err := d.ColSumF64(tmp, parts, 1, 1, true, sumsq); err != nil {
		return 0, err
	}
	d.args.reset().ptr(a.Params).ptr(a.Grads).ptr(a.M).ptr(a.V).i64(a.N).ptr(sumsq).
		f64(a.Beta1).f64(a.Beta2).f64(a.Eps).f64(a.StepSize).f64(a.SqrtBC2).f64(a.MaxNorm)
	if err := d.run(kAdam, int64(a.N)); err != nil {
		return 0, err
	}
	var s [1]float64
	if err := d.readScalars(s[:], slotSumsq); err != nil {
		return 0, err
	}
	return math.Sqrt(s[0]), nil
}

// Conv is one valid convolution's geometry over a batch (ops.cuh ConvGeom).
type Conv struct {
	N, C, H, W int  // input: N images of C channels, H×W
	K, S       int  // kernel side, stride
	OH, OW     int  // output side
	NHWC       bool // input layout [N, H, W, C] instead of [N, C, H, W]
}

func (c Conv) pack(a *argBuf) {
	a.i32(c.N).i32(c.C).i32(c.H).i32(c.W).i32(c.K).i32(c.S).i32(c.OH).i32(c.OW).i32(b2i(c.NHWC))
}

// Im2Col writes the [N·OH·OW, C·K·K] column matrix of x into col.
func (d *Device) Im2Col(x, col Ptr, c Conv) error {
	d.args.reset().ptr(x).ptr(col)
	c.pack(&d.args)
	return d.run(kIm2col, int64(c.N)*int64(c.OH)*int64(c.OW)*int64(c.C)*int64(c.K)*int64(c.K))
}

// Col2Im writes into dx (the input's layout) the gradient of the input
// from the column matrix's gradient dcol.
func (d *Device) Col2Im(dcol, dx Ptr, c Conv) error {
	d.args.reset().ptr(dcol).ptr(dx)
	c.pack(&d.args)
	return d.run(kCol2im, int64(c.N)*int64(c.C)*int64(c.H)*int64(c.W))
}

// Transpose writes dst[b, j, i] = src[b, i, j] for batch [rows, cols]
// matrices.
func (d *Device) Transpose(src, dst Ptr, batch, rows, cols int) error {
	if err := checkInt32("Transpose", batch, rows, cols); err != nil {
		return err
	}
	d.args.reset().ptr(src).ptr(dst).i32(batch).i32(rows).i32(cols)
	return d.run(kTranspose, int64(batch)*int64(rows)*int64(cols))
}

// Gemm computes the row-major product C = alpha·op(A)·op(B) + beta·C with
// C [m, n] and op(A) [m, k], op(B) [k, n]; transA/transB say that A is
// stored [k, m] / B is stored [n, k]. It calls column-major cuBLAS as
// Cᵀ = op(B)ᵀ·op(A)ᵀ, which needs no copies.
func (d *Device) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b Ptr, beta float32, c Ptr) error {
	if d.closed {
		return errClosed
	}
	if err := checkInt32("Gemm", m, n, k); err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	lda, ldb := k, n // row-major leading dimensions of A and B as stored
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	if err := d.s.sgemm(d.blas, transB, transA, n, m, k, alpha, b, max(ldb, 1), a, max(lda, 1), beta, c, max(n, 1)); err != nil {
		return err
	}
	return d.waitIfSync("cublasSgemm")
}
