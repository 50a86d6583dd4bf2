// Package judge measures in the simulator whether an advisor's advice is
// good: for each annotation it restores the simulator snapshot of the
// annotated state and compares what the suggested action does there with
// what the action the agent took does, each followed by the agent's own
// policy.
//
// # What is measured
//
// For annotation i, rollout j runs two arms from the restored snapshot:
//
//   - suggested: the advisor's action for the first Follow steps (1 by
//     default), then the agent's policy;
//   - taken: the action the agent took, once, then the agent's policy.
//
// Each arm runs until it terminates, reaches Horizon steps, or reaches the
// episode's own time limit (the task's MaxEpisodeSteps counted from the
// annotated step), and its return is the undiscounted sum of its rewards.
// The difference of rollout j is return(suggested) − return(taken).
//
// # Common random numbers
//
// Both arms of rollout j share every random number: at step t the
// policy's generator is reseeded from (Seed, state, j, t) before it acts,
// the state named by the annotation's episode and step, so an arm draws
// the same noise at step t whatever it did before, and the
// environment's noise is the snapshot's own (MuJoCo steps are
// deterministic; Pong's sticky-action generator is part of its snapshot).
// Identical actions therefore give identical returns: an annotation whose
// suggestion equals the taken action (with Follow 1) has a difference of
// exactly 0 in every rollout. The seeds depend on the state and the
// rollout, never on the worker or the annotation's place in the input, so
// results do not depend on Jobs or on which other annotations are judged
// with them, and annotations of different advisors at the same state are
// judged on the same noise (their taken arms are identical).
//
// # Statistics
//
// Per annotation: the mean difference over the N rollouts with a 95%
// Student-t interval (mean ± t(0.975, N−1)·s/√N; none for N = 1), each
// arm's mean return and fall rate (the share of rollouts that terminated).
// An annotation helps when its interval lies above 0 and hurts when it lies
// below. Agreement: the advisor's implicit reward r of the taken action
// predicts the sign of the difference — r < 0 (the taken action was bad)
// predicts a positive difference, r > 0 a negative one; an annotation with
// r = 0 or a mean difference of exactly 0 is undecided and left out of the
// agreement rate.
//
// Per advisor (the annotations' Source): the mean of the annotations' mean
// differences with a 95% percentile-bootstrap interval over annotations
// (report.Resamples resamples), the share that help and the share that
// hurt, and the agreement rate, the shares with 95% Wilson intervals.
package judge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/report"
)

// Defaults of Config.
const (
	DefaultHorizon  = 200
	DefaultRollouts = 8
	DefaultFollow   = 1
)

// Policy is the agent whose policy follows the first action(s). Seed
// restarts its sampling generator; Act writes n actions for n observations
// (judge calls it with n = 1). *ppo.Policy implements it. A Policy is used
// by one goroutine.
type Policy interface {
	Seed(seed uint64)
	Act(obs []float32, n int, actions []float32)
}

// Config sets a judgement's size.
type Config struct {
	// Horizon is the most steps an arm runs after the annotated state.
	Horizon int
	// Rollouts is the number N of rollouts of each arm per annotation.
	Rollouts int
	// Follow is how many steps the suggested arm holds the suggestion
	// before the policy takes over (the taken arm holds the taken action
	// for one step: what the agent did).
	Follow int
	// Jobs is the number of worker goroutines, each with its own env
	// instance and policy; 0 means GOMAXPROCS. Results do not depend on it.
	Jobs int
	// Seed seeds the common random numbers and the bootstrap.
	Seed uint64
	// Progress, when set, is called after each annotation is judged with
	// the number judged so far and the total (from the workers, so it must
	// be safe for concurrent use).
	Progress func(done, total int)
}

// DefaultConfig is the defaults: 8 rollouts to 200 steps, the suggestion
// held 1 step, seed 1, every core.
func DefaultConfig() Config {
	return Config{Horizon: DefaultHorizon, Rollouts: DefaultRollouts, Follow: DefaultFollow, Seed: 1}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.Horizon < 1 {
		errs = append(errs, fmt.Errorf("horizon %d: want ≥ 1 step", c.Horizon))
	}
	if c.Rollouts < 1 {
		errs = append(errs, fmt.Errorf("rollouts %d: want ≥ 1 (≥ 2 for an interval per annotation)", c.Rollouts))
	}
	if c.Follow < 1 {
		errs = append(errs, fmt.Errorf("follow %d: want ≥ 1 step of the suggestion", c.Follow))
	}
	if c.Jobs < 0 {
		errs = append(errs, fmt.Errorf("jobs %d: want ≥ 0 (0: every core)", c.Jobs))
	}
	return errors.Join(errs...)
}

// Interval is a 95% interval.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Arm is what one arm did over the rollouts of an annotation.
type Arm struct {
	MeanReturn float64 `json:"mean_return"`
	FallRate   float64 `json:"fall_rate"` // share of rollouts that terminated
	// Unstable counts rollouts cut by a physics blow-up (env.ErrUnstable):
	// they end there, not counted as falls.
	Unstable int `json:"unstable,omitempty"`
}

// Verdict is the judgement of one annotation.
type Verdict struct {
	Index   int    `json:"index"` // the annotation's position in the input
	Advisor string `json:"advisor"`
	Episode string `json:"episode"`
	Step    int    `json:"step"`
	// Reward is the advisor's implicit reward of the taken action.
	Reward float64 `json:"reward"`
	// Steps is the most steps an arm could run: the horizon, or fewer
	// where the episode's time limit comes first.
	Steps int `json:"steps"`
	// EnvSteps is the number of env steps both arms simulated in all.
	EnvSteps  int64 `json:"env_steps"`
	Suggested Arm   `json:"suggested"`
	Taken     Arm   `json:"taken"`
	// Diffs are the per-rollout differences return(suggested) −
	// return(taken); Diff their mean and CI its t interval (nil for one
	// rollout).
	Diffs []float64 `json:"diffs"`
	Diff  float64   `json:"diff"`
	CI    *Interval `json:"ci,omitempty"`
	// Helps: the interval lies above 0; Hurts: below.
	Helps bool `json:"helps"`
	Hurts bool `json:"hurts"`
	// Agrees says whether the implicit reward's sign predicted the sign of
	// Diff (see the package doc); nil when undecided.
	Agrees *bool `json:"agrees,omitempty"`
}

// Share is a count out of a total with its Wilson interval.
type Share struct {
	Count int      `json:"count"`
	Of    int      `json:"of"`
	Share float64  `json:"share"`
	CI    Interval `json:"ci"`
}

// Summary is the judgement of one advisor's annotations.
type Summary struct {
	Advisor     string `json:"advisor"`
	Annotations int    `json:"annotations"`
	// MeanDiff is the mean over annotations of their mean difference, CI
	// its percentile-bootstrap interval over annotations (nil for one
	// annotation).
	MeanDiff float64   `json:"mean_diff"`
	CI       *Interval `json:"ci,omitempty"`
	Helps    Share     `json:"helps"`
	Hurts    Share     `json:"hurts"`
	// Agreement is over the decided annotations.
	Agreement Share `json:"agreement"`
	// Fall rates of each arm, averaged over annotations.
	SuggestedFallRate float64 `json:"suggested_fall_rate"`
	TakenFallRate     float64 `json:"taken_fall_rate"`
}

// Result is a whole judgement.
type Result struct {
	Env      string `json:"env"`
	Horizon  int    `json:"horizon"`
	Rollouts int    `json:"rollouts"`
	Follow   int    `json:"follow"`
	Seed     uint64 `json:"seed"`
	// EnvSteps is the number of env steps simulated in all.
	EnvSteps int64     `json:"env_steps"`
	Advisors []Summary `json:"advisors"`
	Verdicts []Verdict `json:"annotations"`
	// Provenance, filled by callers that read files.
	Checkpoint  string   `json:"checkpoint,omitempty"`
	Inputs      []string `json:"inputs,omitempty"`
	WallSeconds float64  `json:"wall_seconds,omitempty"`
	// Figure, when set, is the file name of the figure Plot wrote beside
	// judge.md (its SVG), which WriteMarkdown shows.
	Figure string `json:"figure,omitempty"`
}

// Check returns an error naming the first annotation that cannot be judged
// on spec (what names the input in messages): one without a snapshot (the
// fix: collect with snapshots), without the taken action, of the wrong
// sizes, or at a step past the episode limit.
func Check(spec env.Spec, anns []advisor.Annotation, snapLen int, what string) error {
	if len(anns) == 0 {
		return fmt.Errorf("%s: no annotations to judge", what)
	}
	ck := advisor.Checker{Spec: spec, SnapshotLen: snapLen}
	for i := range anns {
		a := &anns[i]
		switch {
		case a.Snapshot == nil:
			return fmt.Errorf("%s:%d: the annotation carries no simulator snapshot, so its state cannot be restored: collect the episodes with 'ultra collect --snapshots' and annotate them again (or give --traj with snapshotted episodes they came from)", what, i+1)
		case a.Taken == nil:
			return fmt.Errorf("%s:%d: the annotation does not record the action the agent took: give --traj with the episodes it came from, or annotate them again", what, i+1)
		case spec.MaxEpisodeSteps > 0 && a.Step >= spec.MaxEpisodeSteps:
			return fmt.Errorf("%s:%d: step %d lies past %s's %d-step episode limit", what, i+1, a.Step, spec.ID, spec.MaxEpisodeSteps)
		}
		if why := ck.Check(a); why != "" {
			return fmt.Errorf("%s:%d: %s", what, i+1, why)
		}
	}
	return nil
}

// Judge judges every annotation (each checked by Check) on spec's task
// with the policies newPolicy makes, one per worker (closed after use when
// they implement io.Closer).
func Judge(ctx context.Context, spec env.Spec, newPolicy func() (Policy, error), anns []advisor.Annotation, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("judge: %w", err)
	}
	snapLen, err := env.SnapshotLen(spec)
	if err != nil {
		return nil, fmt.Errorf("judge: %s: %w", spec.ID, err)
	}
	if err := Check(spec, anns, snapLen, "annotations"); err != nil {
		return nil, fmt.Errorf("judge: %w", err)
	}
	return judgeChecked(ctx, spec, newPolicy, anns, cfg)
}

// judgeChecked is Judge on annotations already checked against spec (Run's
// came through ReadAnnotations, which checks them).
func judgeChecked(ctx context.Context, spec env.Spec, newPolicy func() (Policy, error), anns []advisor.Annotation, cfg Config) (*Result, error) {
	jobs := cfg.Jobs
	if jobs == 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	jobs = min(jobs, len(anns))
	verdicts := make([]Verdict, len(anns))
	var next, done atomic.Int64
	errs := make([]error, jobs)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wk, err := newWorker(spec, newPolicy, cfg)
			if err != nil {
				errs[w] = err
				cancel()
				return
			}
			defer wk.close()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(anns) || ctx.Err() != nil {
					return
				}
				if err := wk.judge(i, &anns[i], &verdicts[i]); err != nil {
					errs[w] = fmt.Errorf("annotation %d: %w", i+1, err)
					cancel()
					return
				}
				if cfg.Progress != nil {
					cfg.Progress(int(done.Add(1)), len(anns))
				}
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("judge: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("judge: %w", err)
	}
	res := &Result{Env: spec.ID, Horizon: cfg.Horizon, Rollouts: cfg.Rollouts, Follow: cfg.Follow, Seed: cfg.Seed,
		Advisors: Summarize(verdicts, cfg.Seed), Verdicts: verdicts}
	for i := range verdicts {
		res.EnvSteps += verdicts[i].EnvSteps
	}
	return res, nil
}

// worker owns one env instance, one policy and the rollout buffers.
type worker struct {
	spec             env.Spec
	e                env.Env
	p                Policy
	cfg              Config
	obs              []float32
	act, sugg, taken []float32
}

func newWorker(spec env.Spec, newPolicy func() (Policy, error), cfg Config) (*worker, error) {
	e, err := spec.New(env.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.ID, err)
	}
	p, err := newPolicy()
	if err != nil {
		e.Close()
		return nil, err
	}
	d := spec.Action.Dim
	return &worker{spec: spec, e: e, p: p, cfg: cfg, obs: make([]float32, spec.Observation.Dim),
		act: make([]float32, d), sugg: make([]float32, d), taken: make([]float32, d)}, nil
}

func (w *worker) close() {
	w.e.Close()
	if c, ok := w.p.(io.Closer); ok {
		c.Close()
	}
}

// judge runs annotation i's rollouts into v.
func (w *worker) judge(i int, a *advisor.Annotation, v *Verdict) error {
	copy(w.sugg, a.Action)
	copy(w.taken, a.Taken)
	advisor.ClampAction(w.sugg, w.spec.Action)
	advisor.ClampAction(w.taken, w.spec.Action)
	steps := w.cfg.Horizon
	if m := w.spec.MaxEpisodeSteps; m > 0 {
		steps = min(steps, m-a.Step)
	}
	n := w.cfg.Rollouts
	h := fnv.New64a()
	h.Write([]byte(a.Episode))
	state := mix(h.Sum64(), uint64(a.Step))
	*v = Verdict{Index: i, Advisor: a.Source, Episode: a.Episode, Step: a.Step, Reward: a.Reward, Steps: steps,
		Diffs: make([]float64, n)}
	var rs, rt float64
	var fs, ft int
	for j := 0; j < n; j++ {
		base := mix(mix(w.cfg.Seed, state), uint64(j))
		s, ns, fellS, unstS, err := w.rollout(a.Snapshot, w.sugg, w.cfg.Follow, steps, base)
		if err != nil {
			return err
		}
		t, nt, fellT, unstT, err := w.rollout(a.Snapshot, w.taken, 1, steps, base)
		if err != nil {
			return err
		}
		v.EnvSteps += int64(ns + nt)
		v.Diffs[j] = s - t
		rs, rt = rs+s, rt+t
		fs, ft = fs+b2i(fellS), ft+b2i(fellT)
		v.Suggested.Unstable += b2i(unstS)
		v.Taken.Unstable += b2i(unstT)
	}
	fn := float64(n)
	v.Suggested.MeanReturn, v.Taken.MeanReturn = rs/fn, rt/fn
	v.Suggested.FallRate, v.Taken.FallRate = float64(fs)/fn, float64(ft)/fn
	v.Diff = meanOf(v.Diffs)
	if ci, ok := tInterval(v.Diffs); ok {
		v.CI = &ci
		v.Helps, v.Hurts = ci.Lo > 0, ci.Hi < 0
	}
	if a.Reward != 0 && v.Diff != 0 {
		agree := (a.Reward < 0) == (v.Diff > 0)
		v.Agrees = &agree
	}
	return nil
}

// rollout restores snap, executes first for hold steps, then the policy,
// for at most steps steps; the policy's noise at step t is seeded from
// (base, t). It returns the return, the steps run, whether the arm
// terminated and whether a physics blow-up cut it.
func (w *worker) rollout(snap []float64, first []float32, hold, steps int, base uint64) (ret float64, n int, fell, unstable bool, err error) {
	if err := w.e.Restore(snap, w.obs); err != nil {
		return 0, 0, false, false, fmt.Errorf("restore the snapshot: %w", err)
	}
	for t := 0; t < steps; t++ {
		act := first
		if t >= hold {
			w.p.Seed(mix(base, uint64(t)))
			w.p.Act(w.obs, 1, w.act)
			act = w.act
		}
		r, term, err := w.e.Step(act, w.obs)
		if errors.Is(err, env.ErrUnstable) {
			return ret, t + 1, false, true, nil
		} else if err != nil {
			return 0, 0, false, false, err
		}
		ret += r
		if term {
			return ret, t + 1, true, false, nil
		}
	}
	return ret, steps, false, false, nil
}

// Summarize summarises verdicts per advisor, in order of first
// appearance; seed seeds each advisor's bootstrap (mixed with its name, so
// an advisor's interval does not depend on the others).
func Summarize(verdicts []Verdict, seed uint64) []Summary {
	var order []string
	by := map[string][]*Verdict{}
	for i := range verdicts {
		v := &verdicts[i]
		if _, ok := by[v.Advisor]; !ok {
			order = append(order, v.Advisor)
		}
		by[v.Advisor] = append(by[v.Advisor], v)
	}
	out := make([]Summary, 0, len(order))
	for _, name := range order {
		vs := by[name]
		s := Summary{Advisor: name, Annotations: len(vs)}
		diffs := make([]float64, len(vs))
		var helps, hurts, decided, agreed int
		for k, v := range vs {
			diffs[k] = v.Diff
			helps += b2i(v.Helps)
			hurts += b2i(v.Hurts)
			if v.Agrees != nil {
				decided++
				agreed += b2i(*v.Agrees)
			}
			s.SuggestedFallRate += v.Suggested.FallRate / float64(len(vs))
			s.TakenFallRate += v.Taken.FallRate / float64(len(vs))
		}
		s.MeanDiff = meanOf(diffs)
		if len(diffs) > 1 {
			h := fnv.New64a()
			h.Write([]byte(name))
			lo, hi := report.StratifiedBootstrap([][]float64{diffs}, meanOf, rand.New(rand.NewPCG(seed, h.Sum64())))
			s.CI = &Interval{lo, hi}
		}
		s.Helps, s.Hurts, s.Agreement = share(helps, len(vs)), share(hurts, len(vs)), share(agreed, decided)
		out = append(out, s)
	}
	return out
}

// share is k of n with its 95% Wilson score interval ([0, 1] for n = 0).
func share(k, n int) Share {
	s := Share{Count: k, Of: n, CI: Interval{0, 1}}
	if n == 0 {
		return s
	}
	const z = 1.959963984540054
	p, fn := float64(k)/float64(n), float64(n)
	s.Share = p
	den := 1 + z*z/fn
	c := (p + z*z/(2*fn)) / den
	h := z * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn)) / den
	s.CI = Interval{math.Max(0, c-h), math.Min(1, c+h)}
	return s
}

// tInterval is the 95% Student-t interval of the mean of xs; false for
// fewer than 2 values.
func tInterval(xs []float64) (Interval, bool) {
	n := len(xs)
	if n < 2 {
		return Interval{}, false
	}
	m := meanOf(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	se := math.Sqrt(ss / float64(n-1) / float64(n))
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	return Interval{m - q*se, m + q*se}, true
}

func meanOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mix hashes a seed with a value (splitmix64's finaliser over their sum).
func mix(seed, v uint64) uint64 {
	z := seed + 0x9e3779b97f4a7c15*(v+1)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
