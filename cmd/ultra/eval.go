package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/engine/ppo"
)

func cmdEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	envID := fs.String("env", "", "task id (see 'ultra envs'); required")
	policy := fs.String("policy", "random", "baseline policy: zero or random (ignored with --checkpoint)")
	ckPath := fs.String("checkpoint", "", "evaluate the policy of this checkpoint (a run's checkpoint.bin, the run directory, or its exported policy.safetensors) instead of a baseline")
	mode := fs.String("mode", "both", "with --checkpoint: deterministic (mean action), stochastic (sampled), or both")
	episodes := fs.Int("episodes", 10, "number of episodes, ≥ 1")
	seed := fs.Uint64("seed", 1, "seed for the environments and the policy")
	noise := fs.Float64("reset-noise", -1, "reset-noise scale (≥ 0); default: the task's own")
	envs := fs.Int("envs", 0, "parallel env instances; 0 = min(episodes, cores)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	ck, spec, err := policyAndSpec("eval", *ckPath, *envID,
		fmt.Errorf("eval: --env is required: valid envs are %s", strings.Join(registry().IDs(), ", ")))
	if err != nil {
		return err
	}
	if *episodes < 1 {
		return fmt.Errorf("eval: --episodes must be ≥ 1, got %d", *episodes)
	}
	modes := map[string][]bool{"deterministic": {true}, "stochastic": {false}, "both": {true, false}}[*mode]
	if ck != nil && modes == nil {
		return fmt.Errorf("eval: --mode must be deterministic, stochastic or both, got %q", *mode)
	}
	runs, closePolicies, err := experiment.OpenPolicies(ck, *policy, modes, spec, *seed)
	defer closePolicies()
	if err != nil && ck == nil {
		return fmt.Errorf("eval: --policy: %w (or give --checkpoint)", err)
	} else if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	opts, err := resetNoiseOption("eval", fs, *noise)
	if err != nil {
		return err
	}
	if *envs < 0 {
		return fmt.Errorf("eval: --envs must be ≥ 0 (0: automatic), got %d", *envs)
	}
	n := *envs
	if n <= 0 {
		n = min(*episodes, runtime.GOMAXPROCS(0))
	}
	v, err := env.New(spec, env.Config{NumEnvs: n, Options: opts})
	if err != nil {
		return err
	}
	defer v.Close()
	var reports []map[string]any
	for _, r := range runs {
		eps, err := eval.Run(v, r, *episodes, *seed)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		sum := eval.Summarize(eps)
		st := v.Stats()
		if *asJSON {
			reports = append(reports, map[string]any{
				"env": spec.ID, "policy": r.Name, "seed": *seed, "episodes": eps, "summary": sum,
				"physics_resets": st.PhysicsResets,
			})
			continue
		}
		for _, e := range eps {
			fmt.Fprintf(stdout, "episode %3d  return %10.2f  length %4d\n", e.Index+1, e.Return, e.Length)
		}
		fmt.Fprintf(stdout, "%s %s policy, %d episodes, seed %d: return %.2f ± %.2f (min %.2f, max %.2f), mean length %.1f\n",
			spec.ID, r.Name, sum.Episodes, *seed, sum.MeanReturn, sum.StdReturn, sum.MinReturn, sum.MaxReturn, sum.MeanLength)
		if st.PhysicsResets > 0 {
			fmt.Fprintf(stdout, "warning: %d episodes ended by an unstable simulation (last: %v)\n", st.PhysicsResets, st.LastUnstable)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if len(reports) == 1 {
			return enc.Encode(reports[0])
		}
		return enc.Encode(reports)
	}
	return nil
}

// policyAndSpec loads --checkpoint when given (a checkpoint, a run
// directory or an exported policy) and looks up --env, which defaults to
// the checkpoint's; noEnv is the error when neither names an env. Errors
// carry the command's name.
func policyAndSpec(cmd, ckPath, envID string, noEnv error) (*ppo.Checkpoint, env.Spec, error) {
	var ck *ppo.Checkpoint
	if ckPath != "" {
		var err error
		if ck, err = ppo.LoadPolicy(ckPath); err != nil {
			return nil, env.Spec{}, fmt.Errorf("%s: %w", cmd, err)
		}
		if envID == "" {
			envID = ck.Config.Env
		}
	}
	if envID == "" {
		return nil, env.Spec{}, noEnv
	}
	spec, err := registry().Lookup(envID)
	if err != nil {
		return nil, env.Spec{}, fmt.Errorf("%s: %w", cmd, err)
	}
	return ck, spec, nil
}

// resetNoiseOption is the env options with --reset-noise when it was given
// (the task's own scale otherwise), refusing a scale that is not finite
// and ≥ 0.
func resetNoiseOption(cmd string, fs *flag.FlagSet, noise float64) (env.Options, error) {
	opts := env.DefaultOptions()
	if givenFlags(fs)["reset-noise"] {
		opts = env.WithResetNoise(noise)
	}
	if opts.ResetNoise != nil && !(*opts.ResetNoise >= 0 && !math.IsInf(*opts.ResetNoise, 0)) {
		return env.Options{}, fmt.Errorf("%s: --reset-noise must be a finite scale ≥ 0, got %g", cmd, noise)
	}
	return opts, nil
}
