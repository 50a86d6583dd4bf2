package eval

import (
	"fmt"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/memlimit"
)

// Collect runs p on v until `episodes` episodes have finished and returns
// them as trajectories with ids "<prefix>ep<index>". Episodes are assigned
// to instances round-robin, as eval.Run does. With snapshots set, each step
// also records the simulator state before it (for resets to critical
// states); that costs one state copy per step.
func Collect(v env.VecEnv, p Policy, episodes int, seed uint64, prefix string, snapshots bool) ([]traj.Trajectory, error) {
	if episodes < 1 {
		return nil, fmt.Errorf("collect: episodes must be ≥ 1, got %d", episodes)
	}
	spec := v.Spec()
	n, od, ad := v.NumEnvs(), spec.Observation.Dim, spec.Action.Dim
	obs, err := v.Reset(seed)
	if err != nil {
		return nil, err
	}
	if err := memlimit.Check(CollectEstimate(spec, episodes, snapshots, len(v.Snapshot(0, nil)))); err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	quota := Quota(episodes, n)
	done := make([]int, n)
	out := make([]traj.Trajectory, episodes)
	cur := make([]traj.Trajectory, n)
	actions := make([]float32, n*ad)
	for finished := 0; finished < episodes; {
		p.Act(obs, n, actions)
		for i := 0; i < n; i++ {
			if done[i] >= quota[i] {
				continue
			}
			t := &cur[i]
			t.Obs = append(t.Obs, obs[i*od:(i+1)*od]...)
			t.Actions = append(t.Actions, actions[i*ad:(i+1)*ad]...)
			if snapshots {
				t.Snapshots = append(t.Snapshots, v.Snapshot(i, nil))
			}
		}
		res, err := v.Step(actions)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if done[i] >= quota[i] {
				continue
			}
			t := &cur[i]
			t.Rewards = append(t.Rewards, res.Rewards[i])
			if !res.Done(i) {
				continue
			}
			k := i + done[i]*n
			t.ID, t.Env, t.ObsDim, t.ActDim = fmt.Sprintf("%sep%06d", prefix, k), spec.ID, od, ad
			t.Terminated, t.Truncated, t.Return = res.Terminated[i], res.Truncated[i], res.EpisodeReturn[i]
			out[k] = *t
			cur[i] = traj.Trajectory{}
			done[i]++
			finished++
		}
		obs = res.Obs
	}
	return out, nil
}

// CollectEstimate bounds the memory of `episodes` trajectories of spec: every
// episode at the time limit, each step holding its observation, action and
// reward and, with snapshots, a simulator state of snapLen values.
func CollectEstimate(spec env.Spec, episodes int, snapshots bool, snapLen int) memlimit.Estimate {
	steps := max(spec.MaxEpisodeSteps, 1)
	per := int64(4 * (spec.Observation.Dim + spec.Action.Dim + 1))
	if snapshots {
		per += int64(8*snapLen + 24)
	}
	return memlimit.Estimate{
		Bytes: memlimit.SatMul(memlimit.SatMul(int64(episodes), int64(steps)), per),
		What:  fmt.Sprintf("%d episodes of up to %d steps at %s per step", episodes, steps, memlimit.Format(per)),
	}
}
