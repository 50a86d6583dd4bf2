package experiment

import (
	"fmt"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/internal/memlimit"
)

// DefaultCalibrationSteps is the length of the rollout a target hit rate
// calibrates the radius on: a few thousand steps (4 iterations of the
// MuJoCo presets' 1024-step batch in states, tens of episodes of a
// 100k-step agent), enough to place a 0.1% quantile on 4 states.
const DefaultCalibrationSteps = 4096

// calibrationSeedOffset is added to the pretraining seed to seed the
// calibration rollout: the same rollout for every variant and refinement
// seed, and episodes other than the collected ones (pretraining seed +
// 100), whose states the critical states were taken from.
const calibrationSeedOffset = 200

// Rollout is a stretch of a policy's steps on one env: the observation
// before each step, and for each step how many steps later its episode
// ended in a failure (a terminal state), -1 when it did not (a time limit,
// or the rollout ended first).
type Rollout struct {
	Obs       []float32
	Dim       int
	ToFailure []int
}

// Len is the number of steps.
func (r Rollout) Len() int { return len(r.ToFailure) }

// rolloutEstimate is what a rollout of steps steps of spec holds: each
// state, its steps to failure and two flags.
func rolloutEstimate(spec env.Spec, steps int) memlimit.Estimate {
	per := int64(4*spec.Observation.Dim + 8 + 2)
	return memlimit.Estimate{Bytes: memlimit.SatMul(int64(steps), per), What: fmt.Sprintf("a rollout of %d steps at %s each", steps, memlimit.Format(per))}
}

// RolloutPolicy runs ck's policy, sampling its actions as refinement
// does, for steps steps on one instance of spec reset with seed, and
// records what it visits.
func RolloutPolicy(ck *ppo.Checkpoint, spec env.Spec, steps int, seed uint64) (Rollout, error) {
	if steps < 1 {
		return Rollout{}, fmt.Errorf("rollout: steps must be ≥ 1, got %d", steps)
	}
	if err := memlimit.Check(rolloutEstimate(spec, steps)); err != nil {
		return Rollout{}, fmt.Errorf("rollout: %w", err)
	}
	p, err := ppo.NewPolicy(ck, spec, false, seed)
	if err != nil {
		return Rollout{}, err
	}
	defer p.Close()
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		return Rollout{}, err
	}
	defer v.Close()
	od := spec.Observation.Dim
	obs, err := v.Reset(seed)
	if err != nil {
		return Rollout{}, err
	}
	r := Rollout{Obs: make([]float32, 0, steps*od), Dim: od, ToFailure: make([]int, steps)}
	failedAt := make([]bool, steps) // the step that ended its episode in a failure
	ended := make([]bool, steps)
	act := make([]float32, spec.Action.Dim)
	for s := 0; s < steps; s++ {
		r.Obs = append(r.Obs, obs[:od]...)
		p.Act(obs, 1, act)
		res, err := v.Step(act)
		if err != nil {
			return Rollout{}, err
		}
		failedAt[s], ended[s] = res.Terminated[0], res.Done(0)
		obs = res.Obs
	}
	next := -1 // the next failing step at or after s within s's episode
	for s := steps - 1; s >= 0; s-- {
		switch {
		case failedAt[s]:
			next = s
		case ended[s]:
			next = -1
		}
		r.ToFailure[s] = -1
		if next >= 0 {
			r.ToFailure[s] = next - s
		}
	}
	return r, nil
}
