package tasks

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor/scripted"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/traj"
)

// The pendulum is a task written for the tests (assets/pendulum.xml): a
// pole on a motorised hinge that must stay upright. It shows that a new
// MuJoCo task needs only its own file here and a registry entry: its
// description makes the interpretation and the scripted expert work
// without a change to either.

// pendulumConfig names every coefficient of the pendulum.
type pendulumConfig struct {
	Asset             string     // embedded MJCF file ("pendulum.xml")
	FrameSkip         int        // physics steps per env step (2 × 10 ms = 20 ms)
	HealthyReward     float64    // per step, the terminating one included (1)
	CtrlCostWeight    float64    // × Σ action² (1e-3)
	HealthyAngleRange [2]float64 // open bounds on the pole angle, rad (±0.2)
	ResetNoiseScale   float64    // qpos and qvel uniform in ±scale (0.01)
	MaxEpisodeSteps   int        // truncation (500)
}

func defaultPendulum() pendulumConfig {
	return pendulumConfig{Asset: "pendulum.xml", FrameSkip: 2, HealthyReward: 1, CtrlCostWeight: 1e-3,
		HealthyAngleRange: [2]float64{-0.2, 0.2}, ResetNoiseScale: 0.01, MaxEpisodeSteps: 500}
}

// pendulumJoints: the one hinge turns about +y, so a positive angle tips
// the pole's top forward.
var pendulumJoints = []jointText{{name: "pole_hinge", part: "pole", role: "pole base", depth: 1, swing: 1}}

func pendulumSpec(cfg pendulumConfig) env.Spec {
	layout := []env.Field{
		{Name: "pole_hinge angle", Unit: "rad", Doc: "pole angle from vertical; positive tips its top forward (+x)"},
		{Name: "pole_hinge angular velocity", Unit: "rad/s", Doc: "pole hinge velocity"},
	}
	angle := field(layout, "pole_hinge angle")
	return env.Spec{
		Family: env.FamilyMuJoCo, ID: "pendulum",
		Doc:         "inverted pendulum: keep the pole upright (|angle| < 0.2 rad)",
		Observation: env.UnboundedBox(2), Action: unitBox(1), ObsLayout: layout,
		MaxEpisodeSteps: cfg.MaxEpisodeSteps, DefaultNoise: cfg.ResetNoiseScale,
		Info: describe(cfg.Asset, cfg.FrameSkip, layout, pendulumJoints, env.TaskInfo{
			Goal: "keep the pole upright until the time limit",
		}, env.Body{
			Torso:        env.NoTorso(),
			VelocityClip: inf,
			Reward:       env.Reward{HealthyBonus: true, HealthyReward: cfg.HealthyReward, CtrlCostWeight: cfg.CtrlCostWeight},
			Healthy: env.Healthy{Terminates: true, Bounds: []env.Bound{
				{Quantity: "pole angle", Obs: angle, Unit: "rad", Range: cfg.HealthyAngleRange, Reach: 0.2}}},
			Signs: "Signs: the pole angle is measured from vertical; a positive angle tips the pole's top forward (+x), a negative one backward.",
		}),
		New: func(opts env.Options) (env.Env, error) {
			s, err := newSim(cfg.Asset, cfg.FrameSkip)
			if err != nil {
				return nil, err
			}
			return &pendulum{sim: s, cfg: cfg, noise: checkNoise(opts, cfg.ResetNoiseScale)}, nil
		},
	}
}

type pendulum struct {
	sim
	cfg   pendulumConfig
	noise float64
}

func (t *pendulum) Reset(rng *rand.Rand, obs []float32) {
	t.resetNoise(rng, t.noise, false)
	t.writeObs(obs)
}

func (t *pendulum) Step(action, obs []float32) (float64, bool, error) {
	if err := t.step(action); err != nil {
		return 0, false, err
	}
	t.writeObs(obs)
	healthy := inOpen(t.qpos[0], t.cfg.HealthyAngleRange)
	return t.cfg.HealthyReward - t.cfg.CtrlCostWeight*sumSquares(action), !healthy, nil
}

func (t *pendulum) writeObs(obs []float32) {
	obs[0], obs[1] = float32(t.qpos[0]), float32(t.qvel[0])
}

func (t *pendulum) Restore(snap []float64, obs []float32) error {
	return t.restore(snap, obs, t.writeObs)
}

// fallingPendulum records an episode of the pendulum, registered beside
// the standard tasks, with snapshots: from a small forward lean it falls
// forward under zero torque, is caught by a PD torque from step 8 to 29
// (its margin has a local minimum there) and falls again once let go.
func fallingPendulum(t *testing.T) (env.Spec, traj.Trajectory) {
	t.Helper()
	spec, err := env.NewRegistry(append(Specs(), pendulumSpec(defaultPendulum()))...).Lookup("pendulum")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Info == nil {
		t.Fatal("pendulum has no description")
	}
	e, err := spec.New(env.WithResetNoise(0))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	obs := make([]float32, 2)
	e.Reset(rand.New(rand.NewPCG(1, 2)), obs)
	p := e.(*pendulum)
	p.qpos[0] = 0.05 // lean forward
	if err := p.data.Forward(); err != nil {
		t.Fatal(err)
	}
	p.writeObs(obs)
	tr := traj.Trajectory{ID: "fall", Env: spec.ID, ObsDim: 2, ActDim: 1}
	for k := 0; k < spec.MaxEpisodeSteps; k++ {
		tr.Obs = append(tr.Obs, obs...)
		tr.Snapshots = append(tr.Snapshots, e.Snapshot(nil))
		a := float32(0)
		if k >= 8 && k < 30 {
			a = float32(math.Max(-1, math.Min(1, -5*float64(obs[0])-0.5*float64(obs[1]))))
		}
		tr.Actions = append(tr.Actions, a)
		r, term, err := e.Step([]float32{a}, obs)
		if err != nil {
			t.Fatal(err)
		}
		tr.Rewards = append(tr.Rewards, float32(r))
		tr.Return += r
		if term {
			tr.Terminated = true
			break
		}
	}
	if !tr.Terminated {
		t.Fatalf("the pendulum did not fall in %d steps", tr.Len())
	}
	return spec, tr
}

// TestNewTaskIsInterpreted: the interpretation explains the pendulum from
// its description alone: its goal, reward, failure margin, joint and motor.
func TestNewTaskIsInterpreted(t *testing.T) {
	spec, tr := fallingPendulum(t)
	rules, err := interpret.Rules(spec)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := interpret.Summarize(spec, &tr, interpret.Budget{Resolution: interpret.ResolutionMulti})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"goal", rules, "Goal: keep the pole upright until the time limit."},
		{"timing", rules, "one step lasts 0.02 s (2 physics steps of 0.01 s); the 500-step time limit is 10 s."},
		{"reward", rules, "Reward per step = 1 healthy bonus (paid on every step, the terminating one included) − 0.001 × Σ action²."},
		{"failure margin", rules, "- pole angle strictly between -0.2 and 0.2 rad (-11.5° to 11.5°)."},
		{"termination", rules, "Termination: the episode ends (a failure) as soon as the state after a step is unhealthy."},
		{"signs", rules, "a positive angle tips the pole's top forward (+x), a negative one backward. Joint entries read"},
		{"motor", rules, "- action[0] pole: pole base torque on joint pole_hinge, gear 5 → -5 to 5 N·m; joint range -90° to 90°."},
		{"margin event", sum.Text, "pole angle margin"},
		{"margin limit", sum.Text, "to the ±11.5° pole angle limit"},
		{"joint in a step", sum.Text, "]: pole 3° (0°/s); action pole 0.00; reward 1.00"},
		{"motor in a step", sum.Text, "N·m); reward 1.00"},
		{"failure", sum.Text, "terminated after step " + fmt.Sprint(tr.Len()-1) + " (the state after it was unhealthy: a failure)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.text, tc.want) {
				t.Errorf("text lacks %q:\n%s", tc.want, tc.text)
			}
		})
	}
}

// TestNewTaskIsJudged: the scripted expert measures the pendulum's margin
// from its description: the normalised distance of the pole angle to its
// ±0.2 rad bound, falling to the failure.
func TestNewTaskIsJudged(t *testing.T) {
	spec, tr := fallingPendulum(t)
	adv, err := scripted.New(spec, scripted.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	anns, _, err := adv.Annotate(context.Background(), []traj.Trajectory{tr})
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) == 0 {
		t.Fatal("no critical step in a falling pendulum")
	}
	margin := func(k int) float64 { // the bound's margin: (0.2 − |angle|) / 0.2, in [0, 1]
		a := math.Abs(float64(tr.ObsAt(k)[0]))
		return math.Max(0, math.Min(1, (0.2-a)/0.2))
	}
	n := tr.Len()
	last := anns[len(anns)-1]
	if last.Step != n-1 || last.Reward != -1 || last.Reason != fmt.Sprintf("this step ended the episode (margin %.2f)", margin(n-1)) {
		t.Errorf("last annotation %+v, want step %d ending the episode at margin %.2f with reward -1", last, n-1, margin(n-1))
	}
	for _, a := range anns[:len(anns)-1] {
		m0, m1 := margin(a.Step), margin(a.Step+1)
		dir := "falling"
		if m1 > m0 {
			dir = "rising"
		}
		if want := fmt.Sprintf("safety margin %.2f %s to %.2f", m0, dir, m1); a.Reason != want {
			t.Errorf("step %d: reason %q, want %q", a.Step, a.Reason, want)
		}
		if want := math.Tanh((m1 - m0) / scripted.DefaultConfig().RewardScale); math.Abs(a.Reward-want) > 1e-6 {
			t.Errorf("step %d: reward %v, want tanh(Δmargin/scale) = %v", a.Step, a.Reward, want)
		}
	}
}
