package bench

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/mujoco"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// ScalingOptions sizes an env-scaling sweep: every combination of a worker
// count and a number of instances per worker.
type ScalingOptions struct {
	Workers   []int         // worker counts; nil: 1, 2, 4, … up to GOMAXPROCS, and GOMAXPROCS
	PerWorker []int         // instances per worker; nil: 1, 2, 4, 8
	Rounds    int           // interleaved rounds, ≥ 1
	Time      time.Duration // stepping time per point and round, ≥ 10 ms
}

// ScalingPoint is one point of the curve.
type ScalingPoint struct {
	Workers int     `json:"workers"`
	Envs    int     `json:"envs"`          // instances, Workers × instances per worker
	SPS     float64 `json:"steps_per_s"`   // instance steps per second, median over rounds
	Ratio   float64 `json:"ratio_to_1env"` // median over rounds of SPS / the reference's SPS in that round
	// CLoops is the machine's ceiling for the point (MuJoCo tasks):
	// Workers plain C loops, each stepping Envs/Workers datas in turn, run
	// at once on as many threads, their summed steps/s over one C loop's
	// over one data, median over rounds.
	// OfCLoops is Ratio / CLoops: the share of that ceiling the VecEnv
	// reaches (1: it scales as well as independent C loops).
	CLoops   float64 `json:"c_loops_ratio,omitempty"`
	OfCLoops float64 `json:"of_c_loops,omitempty"`
	// Where the rest goes (env.Stats with Config.Account), medians over
	// rounds. Busy is the share of the workers' time in Step spent stepping
	// instances (1 − Busy: waiting at the step barrier, for the last
	// instances of a Step or for the next Step). StepCost is what one
	// instance step costs here against the reference's in the same round
	// (above 1: the cost of many instances' states in the caches, of cores
	// contending, of the Go scheduler). Ratio ≈ Workers × Busy / StepCost.
	Busy     float64 `json:"busy"`
	StepCost float64 `json:"step_cost"`
}

// ScalingResult is the result of 'ultra bench env-scaling'.
type ScalingResult struct {
	Env        string         `json:"env"`
	Mujoco     string         `json:"mujoco_version,omitempty"`
	GOMAXPROCS int            `json:"gomaxprocs"`
	Rounds     int            `json:"rounds"`
	Seconds    float64        `json:"seconds_per_point"`
	RefSPS     float64        `json:"ref_sps"`  // 1 instance, 1 worker, median over rounds
	RefBusy    float64        `json:"ref_busy"` // its ScalingPoint.Busy
	Points     []ScalingPoint `json:"points"`   // in the order of the sweep, workers first; the reference too if swept
}

// DefaultWorkers returns 1, 2, 4, … below n, and n.
func DefaultWorkers(n int) []int {
	var ws []int
	for w := 1; w < n; w *= 2 {
		ws = append(ws, w)
	}
	return append(ws, n)
}

// Scaling measures spec's VecEnv throughput for every (workers, instances
// per worker) pair of o, against one instance on one worker. In each round
// the reference and every point are measured in turn, for o.Time each, so
// that machine noise hits them alike; figures are medians over rounds.
func Scaling(spec env.Spec, o ScalingOptions) (ScalingResult, error) {
	if o.Workers == nil {
		o.Workers = DefaultWorkers(runtime.GOMAXPROCS(0))
	}
	if o.PerWorker == nil {
		o.PerWorker = []int{1, 2, 4, 8}
	}
	if o.Rounds < 1 || o.Time < 10*time.Millisecond {
		return ScalingResult{}, fmt.Errorf("bench: want rounds ≥ 1 and time ≥ 10ms (got %d, %v)", o.Rounds, o.Time)
	}
	type point struct {
		w, n       int
		v          *env.Pool
		sps        []float64
		busy, cost []float64 // per round: busy share, busy ns per instance step
	}
	ref := &point{w: 1, n: 1}
	pts, sweep := []*point{ref}, []*point(nil) // measured; reported
	for _, w := range o.Workers {
		for _, e := range o.PerWorker {
			if w < 1 || e < 1 {
				return ScalingResult{}, fmt.Errorf("bench: want workers and instances per worker ≥ 1 (got %d, %d)", w, e)
			}
			p := ref
			if w*e > 1 {
				p = &point{w: w, n: w * e}
				pts = append(pts, p)
			}
			sweep = append(sweep, p)
		}
	}
	for _, p := range pts {
		v, err := env.New(spec, env.Config{NumEnvs: p.n, Workers: p.w, Account: true})
		if err != nil {
			return ScalingResult{}, err
		}
		defer v.Close()
		p.v = v
	}
	var shapes [][2]int
	for _, p := range sweep {
		shapes = append(shapes, [2]int{p.w, p.n / p.w})
	}
	ceil, err := newCLoops(spec, shapes, o.Time)
	if err != nil {
		return ScalingResult{}, err
	}
	defer ceil.close()
	for r := 0; r < o.Rounds; r++ {
		if err := ceil.round(); err != nil {
			return ScalingResult{}, err
		}
		for _, p := range pts {
			if _, err := vecFor(p.v, o.Time/10); err != nil { // wake the helpers, warm the caches
				return ScalingResult{}, err
			}
			before := p.v.Stats()
			sps, err := vecFor(p.v, o.Time)
			if err != nil {
				return ScalingResult{}, err
			}
			after := p.v.Stats()
			p.sps = append(p.sps, sps)
			p.busy = append(p.busy, after.BusyShare(before))
			p.cost = append(p.cost, float64(after.Busy-before.Busy)/float64(after.Steps-before.Steps))
		}
	}
	res := ScalingResult{Env: spec.ID, GOMAXPROCS: runtime.GOMAXPROCS(0), Rounds: o.Rounds,
		Seconds: o.Time.Seconds(), RefSPS: median(ref.sps), RefBusy: median(ref.busy)}
	if _, _, err := tasks.Physics(spec.ID); err == nil {
		res.Mujoco = mujoco.Version()
	}
	for _, p := range sweep {
		pt := ScalingPoint{Workers: p.w, Envs: p.n, SPS: median(p.sps), Ratio: medianRatio(p.sps, ref.sps),
			Busy: median(p.busy), StepCost: medianRatio(p.cost, ref.cost)}
		if c := ceil.ratio(p.w, p.n/p.w); c > 0 {
			pt.CLoops, pt.OfCLoops = c, pt.Ratio/c
		}
		res.Points = append(res.Points, pt)
	}
	return res, nil
}

// cLoops measures the machine's own scaling for a MuJoCo task: for each
// point, as many plain C loops as the point has workers, each stepping as
// many datas in turn as the point has instances per worker
// (mujoco.CLoopInTurn, one cgo call, so each holds its own OS thread), run at
// once, against one loop over one data. What a VecEnv loses beyond that is
// its own (the step barrier, stealing, the Go scheduler); what the C loops
// lose too is the machine's (shared caches, many states in one core's
// caches, memory bandwidth, a VM's vCPUs).
type cLoops struct {
	data  [][]*mujoco.Data // per loop, the datas it steps in turn
	skip  int
	reset int
	steps int                  // per loop and round with one data: about the sweep's time per point
	sps   map[[2]int][]float64 // summed steps/s per (loops, datas per loop), per round
	pts   [][2]int             // (loops, datas per loop) measured, (1, 1) first
}

// newCLoops prepares the C loops for the points pts (workers, instances per
// worker); for a task without MuJoCo physics it returns a cLoops that
// measures nothing.
func newCLoops(spec env.Spec, pts [][2]int, d time.Duration) (*cLoops, error) {
	c := &cLoops{sps: map[[2]int][]float64{}}
	model, skip, err := tasks.Physics(spec.ID)
	if err != nil {
		return c, nil // not a MuJoCo task: no C loop to compare with
	}
	c.pts = [][2]int{{1, 1}}
	loops, per := 1, 1
	for _, p := range pts {
		if p != [2]int{1, 1} {
			c.pts = append(c.pts, p)
		}
		loops, per = max(loops, p[0]), max(per, p[1])
	}
	c.data = make([][]*mujoco.Data, loops)
	for k := range c.data {
		for range per {
			dt, err := mujoco.NewData(model)
			if err != nil {
				c.close()
				return nil, err
			}
			c.data[k] = append(c.data[k], dt)
		}
	}
	c.skip, c.reset = skip, spec.MaxEpisodeSteps // as 'ultra bench env' resets its C loop
	// Size each loop to about d: time a short one first.
	const probe = 2000
	t0 := time.Now()
	if err := c.data[0][0].CLoop(probe, skip, c.reset, 12345); err != nil {
		c.close()
		return nil, fmt.Errorf("bench: C loop: %w", err)
	}
	c.steps = max(probe, int(float64(probe)*d.Seconds()/time.Since(t0).Seconds()))
	return c, nil
}

// round measures every point once.
func (c *cLoops) round() error {
	for _, p := range c.pts {
		w, e := p[0], p[1]
		iters := max(1, c.steps/e)
		errs := make([]error, w)
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := range w {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = mujoco.CLoopInTurn(c.data[i][:e], iters, c.skip, c.reset, uint64(12345+i))
			}()
		}
		wg.Wait()
		el := time.Since(t0).Seconds()
		for _, err := range errs {
			if err != nil {
				return fmt.Errorf("bench: C loop: %w", err)
			}
		}
		c.sps[p] = append(c.sps[p], float64(w*e*iters)/el)
	}
	return nil
}

// ratio is the median over rounds of the point's summed steps/s over one
// loop's over one data in the same round; 0 when not measured.
func (c *cLoops) ratio(w, e int) float64 {
	ws, one := c.sps[[2]int{w, e}], c.sps[[2]int{1, 1}]
	if len(ws) == 0 || len(ws) != len(one) {
		return 0
	}
	return medianRatio(ws, one)
}

func (c *cLoops) close() {
	for _, l := range c.data {
		for _, d := range l {
			d.Close()
		}
	}
}

// vecFor steps v for about d and returns instance steps per second.
func vecFor(v env.VecEnv, d time.Duration) (float64, error) { return randomSteps(v, 1, d) }
