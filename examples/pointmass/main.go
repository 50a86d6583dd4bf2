// Command pointmass is a complete example of bringing your own environment
// to ultra: a task written in plain Go (no MuJoCo), registered, and trained
// with ultra's PPO through the engine packages.
//
// The task: a point mass on a line must reach a target and stay there.
// Observation [position, velocity, target] (float32); action one force in
// [-1, 1]; reward −|position − target| − 0.01·force² per step; an episode
// ends after 200 steps (truncation) or when the mass leaves [-2, 2]
// (termination).
//
//	go run ./examples/pointmass [-steps 40960]
//
// What an env implements is env.Env (Reset, Step, Snapshot, Restore,
// Close); what describes it is env.Spec (spaces, a layout of the
// observation, the episode limit, a constructor). A Registry maps ids to
// specs; ultra's own command registers its tasks in cmd/ultra's registry(),
// and a program of your own can build a Registry, as below, or hand the spec
// to ppo.New directly. Snapshots make RICE restarts, collection with
// snapshots and videos possible; an env that cannot snapshot may return its
// state partially, but then those features do not apply.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
)

// Every coefficient of the task, with its default.
const (
	dt          = 0.05 // seconds per step
	mass        = 1.0  // kg
	friction    = 0.5  // velocity damping per second
	ctrlCost    = 0.01 // × force²
	bound       = 2.0  // the mass leaves the line beyond ±bound: terminated
	targetRange = 1.0  // targets are drawn uniformly in ±targetRange
	maxSteps    = 200  // truncation
	resetNoise  = 0.1  // initial position and velocity uniform in ±resetNoise
)

// pointMass is one instance: its whole state is three numbers.
type pointMass struct{ x, v, target float64 }

func (p *pointMass) obs(o []float32) {
	o[0], o[1], o[2] = float32(p.x), float32(p.v), float32(p.target)
}

// Reset implements env.Env: a new target and a small random start.
func (p *pointMass) Reset(rng *rand.Rand, o []float32) {
	p.target = targetRange * (2*rng.Float64() - 1)
	p.x = resetNoise * (2*rng.Float64() - 1)
	p.v = resetNoise * (2*rng.Float64() - 1)
	p.obs(o)
}

// Step implements env.Env.
func (p *pointMass) Step(a []float32, o []float32) (float64, bool, error) {
	f := math.Max(-1, math.Min(1, float64(a[0])))
	p.v += dt * (f/mass - friction*p.v)
	p.x += dt * p.v
	p.obs(o)
	reward := -math.Abs(p.x-p.target) - ctrlCost*f*f
	return reward, math.Abs(p.x) > bound, nil
}

// Snapshot implements env.Env: the full state.
func (p *pointMass) Snapshot(dst []float64) []float64 { return append(dst[:0], p.x, p.v, p.target) }

// Restore implements env.Env.
func (p *pointMass) Restore(s []float64, o []float32) error {
	if len(s) != 3 {
		return fmt.Errorf("pointmass: a snapshot has 3 values, got %d", len(s))
	}
	p.x, p.v, p.target = s[0], s[1], s[2]
	p.obs(o)
	return nil
}

// Close implements env.Env.
func (p *pointMass) Close() error { return nil }

// Spec describes the task to ultra.
func Spec() env.Spec {
	return env.Spec{
		ID:          "pointmass",
		Doc:         "a point mass on a line: reach the target and stay there",
		Observation: env.UnboundedBox(3),
		Action:      env.Box([]float32{-1}, []float32{1}),
		ObsLayout: []env.Field{
			{Name: "position", Unit: "m", Doc: "the mass's position on the line"},
			{Name: "velocity", Unit: "m/s", Doc: "its velocity"},
			{Name: "target", Unit: "m", Doc: "where it should be"},
		},
		MaxEpisodeSteps: maxSteps,
		DefaultNoise:    resetNoise,
		Family:          env.FamilyMuJoCo, // continuous control: CleanRL's ppo_continuous_action presets
		StepSeconds:     dt,
		New:             func(env.Options) (env.Env, error) { return &pointMass{}, nil },
	}
}

// train runs PPO on the task for steps env steps and returns the mean
// return of the last 10 episodes after the first iteration and at the end.
func train(steps int, w io.Writer) (first, last float64, err error) {
	reg := env.NewRegistry(Spec())
	spec, err := reg.Lookup("pointmass")
	if err != nil {
		return 0, 0, err
	}
	cfg := ppo.DefaultsFor(spec)
	cfg.Env, cfg.NumEnvs, cfg.NumSteps, cfg.NumMinibatches, cfg.TotalSteps = spec.ID, 4, 512, 8, steps
	tr, err := ppo.New(cfg, spec, ppo.Hooks{})
	if err != nil {
		return 0, 0, err
	}
	defer tr.Close()
	first = math.NaN()
	for !tr.Done() {
		st, err := tr.Iterate()
		if err != nil {
			return 0, 0, err
		}
		if math.IsNaN(first) {
			first = st.Return10
		}
		last = st.Return10
		fmt.Fprintf(w, "step %6d  return (last 10 episodes) %8.2f\n", st.GlobalStep, st.Return10)
	}
	return first, last, nil
}

func main() {
	steps := flag.Int("steps", 40960, "env steps to train")
	flag.Parse()
	first, last, err := train(*steps, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pointmass:", err)
		os.Exit(1)
	}
	fmt.Printf("return %.2f after the first iteration, %.2f at the end\n", first, last)
}
