package env

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/ultra-rl/ultra/internal/memlimit"
)

// VecEnv steps N instances of one task together. Buffers in a [Result] are
// owned by the VecEnv and stay valid until the next Step or Reset.
type VecEnv interface {
	Spec() Spec
	NumEnvs() int
	// Reset seeds instance i from (seed, i), starts every episode and
	// returns the first observations (N × obs dim).
	Reset(seed uint64) ([]float32, error)
	// Step applies one action per instance (N × action dim, row-major).
	// Instances whose episode ended are reset automatically; their last
	// observation is kept in Result.FinalObs.
	Step(actions []float32) (Result, error)
	// Snapshot writes instance i's simulator state into dst and returns it.
	Snapshot(i int, dst []float64) []float64
	// Restore puts instance i into a snapshotted state as the start of a new
	// episode and writes its observation into row i of the observations.
	Restore(i int, snap []float64) error
	// Obs returns the current observations (N × obs dim).
	Obs() []float32
	// Stats returns cumulative counters.
	Stats() Stats
	// MarshalBinary captures everything a resumed run needs to continue
	// exactly: each instance's simulator state, RNG state and the progress
	// of its current episode. UnmarshalBinary restores it into a VecEnv of
	// the same task and size.
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
	Close() error
}

// Result views the outcome of one Step. Row i of every buffer belongs to
// instance i.
type Result struct {
	Obs        []float32 // next observations; for ended episodes, the first observation of the next one
	Rewards    []float32
	Terminated []bool // the episode reached a terminal state (no bootstrapping past it)
	Truncated  []bool // the episode was cut short (time limit or physics failure; bootstrap from FinalObs)
	FinalObs   []float32
	// EpisodeReturn and EpisodeLength hold the finished episode's
	// undiscounted return and step count where Terminated or Truncated.
	EpisodeReturn []float64
	EpisodeLength []int
}

// Done reports whether instance i's episode ended in this step.
func (r Result) Done(i int) bool { return r.Terminated[i] || r.Truncated[i] }

// Stats counts what a VecEnv has done since it was made.
type Stats struct {
	Steps         int64 // instance steps (N per Step call)
	Episodes      int64 // finished episodes
	PhysicsResets int64 // episodes cut short by an unstable simulation
	LastUnstable  error // the most recent physics failure, if any

	// Where the time of Step calls went (with Config.Account; zero
	// otherwise), for telling a VecEnv's own losses from the machine's.
	// Workers is the number of workers (the caller and its helpers);
	// Stepping the wall time spent inside Step; Busy the time
	// the workers spent stepping instances (resets included), summed over
	// workers. Busy / (Workers × Stepping) is the share of the workers' time
	// that stepped instances, the rest having waited at the step barrier
	// for the last instances of a Step or for the next Step; Busy / Steps
	// is what one instance step costs. A helper's time is added after its
	// last chunk of a Step, so a Stats read between Steps may miss that
	// much of the Step just ended.
	Workers  int
	Stepping time.Duration
	Busy     time.Duration
}

// BusyShare is the share of the workers' time inside Step that stepped
// instances between the Stats before and s (Config.Account): Busy over
// Workers × Stepping, of their growth. 0 when no Step was timed.
func (s Stats) BusyShare(before Stats) float64 {
	stepping := s.Stepping - before.Stepping
	if stepping <= 0 || s.Workers == 0 {
		return 0
	}
	return float64(s.Busy-before.Busy) / (float64(s.Workers) * float64(stepping))
}

// Config sizes a VecEnv.
type Config struct {
	NumEnvs int     // instances, ≥ 1
	Workers int     // worker goroutines; 0 means min(NumEnvs, GOMAXPROCS)
	Options Options // passed to every instance
	// Account measures where the time of Step calls goes (Stats.Busy and
	// Stats.Stepping) at the cost of two or three clock reads per Step and
	// worker: about 50 ns, a fifth of one Pong instance's step.
	Account bool
}

// Pool is the VecEnv implementation: instances are stepped in contiguous
// chunks claimed by the calling goroutine and persistent helper goroutines
// (all inline when one worker suffices).
type Pool struct {
	spec           Spec
	n, obsDim, act int
	envs           []Env
	rngs           []*rand.Rand
	pcgs           []*rand.PCG

	obs, finalObs []float32
	rew           []float32
	term, trunc   []bool
	epRet         []float64
	epLen         []int
	curRet        []float64
	curLen        []int
	episodes      []int64
	physics       []int64
	unstable      []error

	actions []float32 // the Step call's actions, read by workers
	steps   int64
	started bool

	// Parallel stepping. Worker k (the caller is worker 0, helper
	// goroutines the others) owns blocks[k], a contiguous run of instances,
	// and claims chunks of it first, so that an instance's simulator state
	// stays in one core's cache from step to step; then it steals unclaimed
	// chunks from the other blocks, which balances uneven step costs. A
	// Step ends when all n instances are done, whoever stepped them: a
	// helper that wakes late (descheduled, parked) holds nobody up. A Step
	// bumps gen; helpers spin briefly on it before parking, because waking
	// a parked goroutine costs tens of microseconds on a VM.
	chunkSize int32
	blocks    []block
	done      paddedInt32 // instances stepped in this Step
	gen       paddedUint64
	helpers   []*parker
	// The caller spins up to finishSpin for the chunks still in progress,
	// then parks until whoever steps the last instance wakes it: that
	// happens when a helper's thread was descheduled mid-chunk on a busy
	// machine, or one instance's step is slow.
	caller parker
	closed atomic.Bool // read by helpers that may wake late

	// Time accounting (Config.Account, Stats): busy[k] is worker k's time
	// stepping instances, in nanoseconds; stepping the caller's wall time
	// in Step.
	account  bool
	busy     []paddedInt64
	stepping time.Duration
}

// block is one worker's share of the instances, [lo, hi), and the offset
// of the next unclaimed chunk in it. It fills a cache line of its own, so
// that workers claiming from different blocks do not share one.
type block struct {
	next   atomic.Int32
	lo, hi int32
	_      [64 - 12]byte
}

// paddedInt32 and paddedUint64 are counters alone on their cache line.
type paddedInt32 struct {
	_ [64]byte
	atomic.Int32
	_ [60]byte
}

type paddedInt64 struct {
	_ [64]byte
	atomic.Int64
	_ [56]byte
}

type paddedUint64 struct {
	_ [64]byte
	atomic.Uint64
	_ [56]byte
}

// parker is where a goroutine of the pool (a helper, or the caller waiting
// for the last chunks) parks.
type parker struct {
	sleeping atomic.Bool
	wake     chan struct{}
}

// spinFor bounds a helper's busy-waiting for the next Step; finishSpin the
// caller's for the chunks other workers are still stepping, which can take
// several times as long as one instance's step.
const (
	spinFor    = 50 * time.Microsecond
	finishSpin = time.Millisecond
)

var _ VecEnv = (*Pool)(nil)

// New makes a VecEnv of cfg.NumEnvs instances of spec.
func New(spec Spec, cfg Config) (*Pool, error) {
	if cfg.NumEnvs < 1 {
		return nil, fmt.Errorf("env %s: NumEnvs = %d, want at least 1", spec.ID, cfg.NumEnvs)
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("env %s: workers must be ≥ 0 (0 = automatic), got %d", spec.ID, cfg.Workers)
	}
	w := cfg.Workers
	if w == 0 {
		w = runtime.GOMAXPROCS(0)
	}
	w = min(w, cfg.NumEnvs)
	n, od, ad := cfg.NumEnvs, spec.Observation.Dim, spec.Action.Dim
	// The first instance tells what one costs; the batch is refused before
	// the rest are made if it would not fit.
	first, err := spec.New(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("env %s: instance 0: %w", spec.ID, err)
	}
	if err := memlimit.Check(InstancesEstimate(spec, first, n)); err != nil {
		first.Close()
		return nil, fmt.Errorf("env %s: %w", spec.ID, err)
	}
	p := &Pool{
		spec: spec, n: n, obsDim: od, act: ad,
		obs: make([]float32, n*od), finalObs: make([]float32, n*od),
		rew: make([]float32, n), term: make([]bool, n), trunc: make([]bool, n),
		epRet: make([]float64, n), epLen: make([]int, n),
		curRet: make([]float64, n), curLen: make([]int, n),
		episodes: make([]int64, n), physics: make([]int64, n), unstable: make([]error, n),
	}
	for i := 0; i < n; i++ {
		e, err := first, error(nil)
		if i > 0 {
			e, err = spec.New(cfg.Options)
		}
		if err != nil {
			p.closeEnvs()
			return nil, fmt.Errorf("env %s: instance %d: %w", spec.ID, i, err)
		}
		p.envs = append(p.envs, e)
		pcg := rand.NewPCG(0, 0)
		p.pcgs = append(p.pcgs, pcg)
		p.rngs = append(p.rngs, rand.New(pcg))
	}
	// Small chunks (about 8 per worker) balance uneven step costs — resets,
	// contacts — since whoever is free steals the next one.
	p.chunkSize = int32(max(1, n/(8*w)))
	p.caller.wake = make(chan struct{}, 1)
	for k := 0; k < w; k++ {
		p.blocks = append(p.blocks, block{lo: int32(k * n / w), hi: int32((k + 1) * n / w)})
	}
	p.busy, p.account = make([]paddedInt64, w), cfg.Account
	for k := 1; k < w; k++ {
		h := &parker{wake: make(chan struct{}, 1)}
		p.helpers = append(p.helpers, h)
		go p.work(k, h)
	}
	return p, nil
}

// Sizer is implemented by instances that know how much memory one of them
// holds (simulator memory included), so that [New] can refuse a batch that
// would not fit before making it.
type Sizer interface {
	Bytes() int64
}

// InstancesEstimate is the memory n instances like e take in a VecEnv: e's
// own [Sizer] figure (0 for instances without one) and the pool's per-
// instance buffers and state.
func InstancesEstimate(spec Spec, e Env, n int) memlimit.Estimate {
	per := int64(8*spec.Observation.Dim + 4*spec.Action.Dim + 256)
	if s, ok := e.(Sizer); ok {
		per += s.Bytes()
	}
	return memlimit.Estimate{
		Bytes: memlimit.SatMul(int64(n), per),
		What:  fmt.Sprintf("%d %s instances at %s each", n, spec.ID, memlimit.Format(per)),
	}
}

// work is helper k's loop: wait for a new generation, step chunks, repeat.
func (p *Pool) work(k int, h *parker) {
	seen := uint64(0)
	for {
		if !p.spinUntil(spinFor, func() bool { return p.gen.Load() != seen }) {
			h.park(func() bool { return p.gen.Load() != seen })
		}
		seen = p.gen.Load()
		if p.closed.Load() {
			return
		}
		var t0 time.Time
		if p.account {
			t0 = time.Now()
		}
		p.claimChunks(k)
		if p.account {
			p.busy[k].Add(int64(time.Since(t0)))
		}
	}
}

// park blocks until wake is called or cond holds. It announces the park,
// then re-checks cond so that a change made in between is not missed; if
// wake already took the announcement, it has sent (or will send) a token.
func (h *parker) park(cond func() bool) {
	h.sleeping.Store(true)
	if !cond() || !h.sleeping.Swap(false) {
		<-h.wake
	}
}

// wakeUp wakes h if it is parked or about to park.
func (h *parker) wakeUp() {
	if h.sleeping.Swap(false) {
		h.wake <- struct{}{}
	}
}

// spinUntil busy-waits up to d for cond, yielding to the scheduler.
func (p *Pool) spinUntil(d time.Duration, cond func() bool) bool {
	start := time.Now()
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i&63 == 63 {
			if time.Since(start) > d {
				return false
			}
			runtime.Gosched()
		}
	}
}

// bump starts a new generation and wakes parked helpers.
func (p *Pool) bump() {
	p.gen.Add(1)
	for _, h := range p.helpers {
		h.wakeUp()
	}
}

// claimChunks steps chunks of worker k's own block until none is left,
// then chunks of the others' blocks.
//
// A helper may call it late, after the Step it woke for has ended and the
// next one has begun: it then claims chunks of that next Step, whose
// actions were stored before the blocks were reset, which is right.
func (p *Pool) claimChunks(k int) {
	cs := p.chunkSize
	for j := range p.blocks {
		b := &p.blocks[(k+j)%len(p.blocks)]
		for {
			lo := b.lo + b.next.Add(cs) - cs
			if lo >= b.hi {
				break
			}
			hi := min(lo+cs, b.hi)
			p.stepRange(int(lo), int(hi))
			if p.done.Add(hi-lo) == int32(p.n) && k != 0 {
				p.caller.wakeUp()
			}
		}
	}
}

// Spec returns the task's spec.
func (p *Pool) Spec() Spec { return p.spec }

// NumEnvs returns the number of instances.
func (p *Pool) NumEnvs() int { return p.n }

// splitmix64 decorrelates nearby seeds so (seed, i) streams are independent.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Reset seeds every instance and starts a new episode in each.
func (p *Pool) Reset(seed uint64) ([]float32, error) {
	if p.closed.Load() {
		return nil, errors.New("env: Reset on a closed VecEnv")
	}
	for i, e := range p.envs {
		p.pcgs[i].Seed(splitmix64(seed), splitmix64(seed^splitmix64(uint64(i)+1)))
		e.Reset(p.rngs[i], p.obsRow(p.obs, i))
		p.curRet[i], p.curLen[i] = 0, 0
	}
	p.started = true
	return p.obs, nil
}

func (p *Pool) obsRow(buf []float32, i int) []float32 { return buf[i*p.obsDim : (i+1)*p.obsDim] }

// Step advances every instance by one step; see [VecEnv.Step].
func (p *Pool) Step(actions []float32) (Result, error) {
	if err := p.checkActions(actions); err != nil {
		return Result{}, err
	}
	p.actions = actions
	var t0 time.Time
	if p.account {
		t0 = time.Now()
	}
	if len(p.helpers) == 0 {
		p.stepRange(0, p.n)
		if p.account {
			d := time.Since(t0)
			p.busy[0].Add(int64(d))
			p.stepping += d
		}
	} else {
		// Every claim of the previous Step failed, and its instances are
		// all done, so the blocks can be reset: helpers still looking at
		// them only find the chunks of this Step.
		p.done.Store(0)
		for k := range p.blocks {
			p.blocks[k].next.Store(0)
		}
		p.bump()
		p.claimChunks(0) // the caller works too instead of waiting idle
		if p.account {
			p.busy[0].Add(int64(time.Since(t0)))
		}
		// Helpers are mid-chunk: at most one chunk away.
		finished := func() bool { return p.done.Load() == int32(p.n) }
		if !p.spinUntil(finishSpin, finished) {
			p.caller.park(finished)
		}
		if p.account {
			p.stepping += time.Since(t0)
		}
	}
	p.steps += int64(p.n)
	return Result{
		Obs: p.obs, Rewards: p.rew, Terminated: p.term, Truncated: p.trunc,
		FinalObs: p.finalObs, EpisodeReturn: p.epRet, EpisodeLength: p.epLen,
	}, nil
}

func (p *Pool) checkActions(actions []float32) error {
	switch {
	case p.closed.Load():
		return errors.New("env: Step on a closed VecEnv")
	case !p.started:
		return errors.New("env: Step before Reset: call Reset(seed) first")
	case len(actions) != p.n*p.act:
		return fmt.Errorf("env %s: got %d action values, want %d (%d envs × action dim %d)",
			p.spec.ID, len(actions), p.n*p.act, p.n, p.act)
	}
	sp := p.spec.Action
	for j, a := range actions {
		f := float64(a)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("env %s: action %d of env %d is %v; actions must be finite", p.spec.ID, j%p.act, j/p.act, a)
		}
		if sp.IsDiscrete() && (a != float32(int(a)) || a < 0 || int(a) >= sp.N) {
			return fmt.Errorf("env %s: action of env %d is %v; want an integer in [0, %d)", p.spec.ID, j, a, sp.N)
		}
	}
	return nil
}

// stepRange steps instances [lo, hi). Each instance touches only its own
// rows and counters, so chunks run in parallel without locks.
func (p *Pool) stepRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		obs := p.obsRow(p.obs, i)
		r, term, err := p.envs[i].Step(p.actions[i*p.act:(i+1)*p.act], obs)
		trunc := false
		if err != nil {
			// Physics blow-up: end the episode as truncated at the last good
			// observation (obs is untouched on error), count it, reset.
			p.physics[i]++
			p.unstable[i] = err
			r, term, trunc = 0, false, true
		} else {
			p.curLen[i]++
			trunc = !term && p.curLen[i] >= p.spec.MaxEpisodeSteps
		}
		p.curRet[i] += r
		p.rew[i] = float32(r)
		p.term[i], p.trunc[i] = term, trunc
		if term || trunc {
			copy(p.obsRow(p.finalObs, i), obs)
			p.epRet[i], p.epLen[i] = p.curRet[i], p.curLen[i]
			p.episodes[i]++
			p.envs[i].Reset(p.rngs[i], obs)
			p.curRet[i], p.curLen[i] = 0, 0
		}
	}
}

// Snapshot writes instance i's simulator state into dst and returns it.
func (p *Pool) Snapshot(i int, dst []float64) []float64 { return p.envs[i].Snapshot(dst) }

// Restore starts a new episode of instance i from a snapshotted state.
func (p *Pool) Restore(i int, snap []float64) error {
	if i < 0 || i >= p.n {
		return fmt.Errorf("env %s: Restore: instance %d out of range [0, %d)", p.spec.ID, i, p.n)
	}
	if err := p.envs[i].Restore(snap, p.obsRow(p.obs, i)); err != nil {
		return fmt.Errorf("env %s: Restore instance %d: %w", p.spec.ID, i, err)
	}
	p.curRet[i], p.curLen[i] = 0, 0
	return nil
}

// Stats sums the per-instance counters.
func (p *Pool) Stats() Stats {
	s := Stats{Steps: p.steps, Workers: len(p.busy), Stepping: p.stepping}
	for k := range p.busy {
		s.Busy += time.Duration(p.busy[k].Load())
	}
	for i := range p.envs {
		s.Episodes += p.episodes[i]
		s.PhysicsResets += p.physics[i]
		if p.unstable[i] != nil {
			s.LastUnstable = p.unstable[i]
		}
	}
	return s
}

// Close stops the workers and closes every instance.
func (p *Pool) Close() error {
	if p.closed.Load() {
		return nil
	}
	p.closed.Store(true)
	p.bump()
	return p.closeEnvs()
}

func (p *Pool) closeEnvs() error {
	var errs []error
	for _, e := range p.envs {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// poolState is the serialised form of a Pool (see VecEnv.MarshalBinary).
type poolState struct {
	Task      string
	Snapshots [][]float64
	RNGs      [][]byte
	CurRet    []float64
	CurLen    []int
	Steps     int64
	Episodes  []int64
	Physics   []int64
	// StepStates are the instances' StepStater states (nil for other
	// tasks, and in states saved before it existed: those resume with
	// what Restore recomputes).
	StepStates [][]float64
}

// check refuses episode progress no run can have: a non-finite return, or
// a negative length or counter.
func (st *poolState) check() error {
	if st.Steps < 0 {
		return fmt.Errorf("step counter %d is negative", st.Steps)
	}
	for i := range st.CurRet {
		if math.IsNaN(st.CurRet[i]) || math.IsInf(st.CurRet[i], 0) || st.CurLen[i] < 0 {
			return fmt.Errorf("instance %d: episode return %v after %d steps", i, st.CurRet[i], st.CurLen[i])
		}
	}
	for i := range st.Episodes {
		if st.Episodes[i] < 0 || (i < len(st.Physics) && st.Physics[i] < 0) {
			return fmt.Errorf("instance %d: negative episode counters", i)
		}
	}
	return nil
}

// MarshalBinary implements VecEnv.
func (p *Pool) MarshalBinary() ([]byte, error) {
	if !p.started {
		return nil, errors.New("env: MarshalBinary before Reset")
	}
	st := poolState{Task: p.spec.ID, CurRet: p.curRet, CurLen: p.curLen, Steps: p.steps,
		Episodes: p.episodes, Physics: p.physics}
	for i, e := range p.envs {
		st.Snapshots = append(st.Snapshots, e.Snapshot(nil))
		b, err := p.pcgs[i].MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("env: marshal RNG %d: %w", i, err)
		}
		st.RNGs = append(st.RNGs, b)
		if ss, ok := e.(StepStater); ok {
			if st.StepStates == nil {
				st.StepStates = make([][]float64, p.n)
			}
			st.StepStates[i] = ss.StepState()
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return nil, fmt.Errorf("env: marshal state: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary implements VecEnv.
func (p *Pool) UnmarshalBinary(b []byte) error {
	var st poolState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
		return fmt.Errorf("env: unmarshal state: %w", err)
	}
	if st.Task != p.spec.ID || len(st.Snapshots) != p.n || len(st.RNGs) != p.n || len(st.CurRet) != p.n || len(st.CurLen) != p.n {
		return fmt.Errorf("env: saved state is for %d %q envs, this VecEnv has %d %q envs", len(st.Snapshots), st.Task, p.n, p.spec.ID)
	}
	if err := st.check(); err != nil {
		return fmt.Errorf("env: saved state: %w", err)
	}
	if st.StepStates != nil && len(st.StepStates) != p.n {
		return fmt.Errorf("env: saved state has step states for %d instances, this VecEnv has %d", len(st.StepStates), p.n)
	}
	for i, e := range p.envs {
		if err := e.Restore(st.Snapshots[i], p.obsRow(p.obs, i)); err != nil {
			return fmt.Errorf("env: restore instance %d: %w", i, err)
		}
		if ss, ok := e.(StepStater); ok && st.StepStates != nil {
			if err := ss.SetStepState(st.StepStates[i]); err != nil {
				return fmt.Errorf("env: restore instance %d: %w", i, err)
			}
		}
		if err := p.pcgs[i].UnmarshalBinary(st.RNGs[i]); err != nil {
			return fmt.Errorf("env: restore RNG %d: %w", i, err)
		}
	}
	copy(p.curRet, st.CurRet)
	copy(p.curLen, st.CurLen)
	p.steps = st.Steps
	copy(p.episodes, st.Episodes)
	copy(p.physics, st.Physics)
	p.started = true
	return nil
}

// Obs returns the current observations (N × obs dim), as last returned by
// Reset, Step or written by Restore/UnmarshalBinary.
func (p *Pool) Obs() []float32 { return p.obs }
