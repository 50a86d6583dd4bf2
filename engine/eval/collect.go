package eval

import (
	"fmt"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
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
