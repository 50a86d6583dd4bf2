package experiment

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
)

// NamedPolicy is a policy to evaluate or collect with, and its name in
// reports ("checkpoint/deterministic", "checkpoint/stochastic", or the
// baseline's name).
type NamedPolicy struct {
	Name string
	eval.Policy
}

// OpenPolicies returns the policies to act with on spec: ck's policy once
// per entry of deterministic (true: its mean action, false: sampled) when
// ck is not nil, else the baseline named (zero or random). close releases
// them.
func OpenPolicies(ck *ppo.Checkpoint, baseline string, deterministic []bool, spec env.Spec, seed uint64) (ps []NamedPolicy, close func(), err error) {
	var opened []*ppo.Policy
	close = func() {
		for _, p := range opened {
			p.Close()
		}
	}
	if ck == nil {
		p, err := eval.Baseline(baseline, spec.Action, seed)
		if err != nil {
			return nil, close, err
		}
		return []NamedPolicy{{Name: baseline, Policy: p}}, close, nil
	}
	for _, det := range deterministic {
		p, err := ppo.NewPolicy(ck, spec, det, seed)
		if err != nil {
			close()
			return nil, func() {}, err
		}
		opened = append(opened, p)
		name := "checkpoint/stochastic"
		if det {
			name = "checkpoint/deterministic"
		}
		ps = append(ps, NamedPolicy{Name: name, Policy: p})
	}
	return ps, close, nil
}

// CollectOptions sizes a collection.
type CollectOptions struct {
	Episodes  int    // episodes to record, ≥ 1
	Envs      int    // parallel instances (0: min(Episodes, cores))
	Seed      uint64 // seeds the envs
	Prefix    string // trajectory ids are "<Prefix>ep<index>"
	Snapshots bool   // record the simulator state before every step
}

// CollectTo records p's episodes on spec and writes them to out (JSONL,
// atomically).
func CollectTo(out string, spec env.Spec, p eval.Policy, o CollectOptions) ([]traj.Trajectory, error) {
	if o.Episodes < 1 {
		return nil, fmt.Errorf("collect: episodes must be ≥ 1, got %d", o.Episodes)
	}
	if out == "" {
		return nil, errors.New("collect: an output file is required")
	}
	n := o.Envs
	if n <= 0 {
		n = min(o.Episodes, runtime.GOMAXPROCS(0))
	}
	v, err := env.New(spec, env.Config{NumEnvs: n})
	if err != nil {
		return nil, err
	}
	defer v.Close()
	trajs, err := eval.Collect(v, p, o.Episodes, o.Seed, o.Prefix, o.Snapshots)
	if err != nil {
		return nil, err
	}
	return trajs, WriteJSONL(out, trajs)
}
