package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/engine/gallery"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/atomicfile"
	"github.com/ultra-rl/ultra/internal/configflags"
)

func cmdCollect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("collect", stderr)
	ckPath := fs.String("checkpoint", "", "collect with this checkpoint's policy (or give --env and --policy)")
	envID := fs.String("env", "", "task id (default: the checkpoint's)")
	policy := fs.String("policy", "", "baseline policy instead of a checkpoint: zero or random")
	episodes := fs.Int("episodes", 16, "episodes to collect, ≥ 1")
	seed := fs.Uint64("seed", 1, "seed for envs and sampling")
	det := fs.Bool("deterministic", false, "take the policy's mean action instead of sampling")
	snaps := fs.Bool("snapshots", false, "also record the simulator state before every step (for resets to critical states)")
	envs := fs.Int("envs", 0, "parallel env instances; 0 = min(episodes, cores)")
	out := fs.String("out", "", "output JSONL file, one trajectory per line (required)")
	force := fs.Bool("force", false, "replace --out if it exists")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("collect: --out FILE is required")
	}
	if err := atomicfile.CheckOutput(*out, *force, *ckPath); err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	if *episodes < 1 {
		return fmt.Errorf("collect: --episodes must be ≥ 1, got %d", *episodes)
	}
	if *envs < 0 {
		return fmt.Errorf("collect: --envs must be ≥ 0 (0: automatic), got %d", *envs)
	}
	var ck *ppo.Checkpoint
	if *ckPath != "" {
		var err error
		if ck, err = ppo.LoadCheckpoint(*ckPath); err != nil {
			return fmt.Errorf("collect: %w", err)
		}
		if *envID == "" {
			*envID = ck.Config.Env
		}
	} else if *policy == "" {
		return errors.New("collect: give --checkpoint C, or --env E with --policy zero|random")
	}
	spec, err := registry().Lookup(*envID)
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	ps, closePolicies, err := experiment.OpenPolicies(ck, *policy, []bool{*det}, spec, *seed)
	defer closePolicies()
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	trajs, err := experiment.CollectTo(*out, spec, ps[0], experiment.CollectOptions{Episodes: *episodes, Envs: *envs,
		Seed: *seed, Prefix: fmt.Sprintf("s%d-", *seed), Snapshots: *snaps})
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	sum := 0.0
	for _, t := range trajs {
		sum += t.Return
	}
	fmt.Fprintf(stdout, "collected %d %s episodes (mean return %.2f) into %s\n", len(trajs), spec.ID, sum/float64(len(trajs)), *out)
	return nil
}

// advisorFlags are the options every advisor-using command shares.
type advisorFlags struct {
	configflags.Advisor // --advisor, --llm-url, --model, --llm-config, --llm-deadline, --critical, --expert
	set                 *configflags.Set
	batchImport         string
	seed                uint64
	offline             bool // --print-prompts: no endpoint or model needed
}

// addAdvisorFlags binds the advisor group (declared once in
// internal/configflags) to fs.
func addAdvisorFlags(fs *flag.FlagSet, a *advisorFlags) {
	a.Advisor = configflags.DefaultAdvisor()
	a.set = configflags.New(fs, &a.Advisor)
}

// apply reads the given advisor flags into the group.
func (a *advisorFlags) apply() error { return a.set.Apply("") }

func cmdAnnotate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("annotate", stderr)
	var af advisorFlags
	addAdvisorFlags(fs, &af)
	fs.Uint64Var(&af.seed, "advisor-seed", 1, "seed of the random advisor")
	trajPath := fs.String("traj", "", "trajectories JSONL from 'ultra collect' (required)")
	out := fs.String("out", "", "output annotations JSONL (required)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	force := fs.Bool("force", false, "replace --out if it exists")
	export := fs.String("batch-export", "", "llm: write the requests as OpenAI Batch API input lines to this file instead of sending them (then --batch-import the output)")
	fs.StringVar(&af.batchImport, "batch-import", "", "llm: read the answers from this file of OpenAI Batch API output lines, for the requests --batch-export wrote")
	galleryDir := fs.String("gallery", "", "also draw each annotated state (from the trajectories' snapshots: collect --snapshots) into this directory, with the advisor's reason and actions, as index.html and PNGs")
	printPrompts := fs.String("print-prompts", "", "llm: write every request (messages and settings) as JSON and plain text into this directory and measure what they show; sends nothing, needs no key, endpoint or model")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := af.apply(); err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	if *printPrompts != "" {
		af.offline = true
		return printPromptsCmd(af, *trajPath, *printPrompts, *export, *out, *force, *asJSON, stdout)
	}
	if *export != "" {
		*out = *export
	}
	if *trajPath == "" || *out == "" {
		return errors.New("annotate: --traj FILE and --out FILE (or --batch-export FILE) are required")
	}
	if err := atomicfile.CheckOutput(*out, *force, *trajPath); err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	trajs, spec, ac, err := annotateInputs(*trajPath, af)
	if err != nil {
		return err
	}
	if *galleryDir != "" {
		if err := checkGalleryDir(*galleryDir, *force, spec); err != nil {
			return fmt.Errorf("annotate: --gallery: %w", err)
		}
	}
	if *export != "" {
		n, err := experiment.ExportBatch(trajs, spec, ac, *export, stderr)
		if err == nil {
			fmt.Fprintf(stdout, "wrote %d Batch API requests to %s; run them (OpenAI's Batch API, endpoint /v1/chat/completions), then: ultra annotate --traj %s --advisor llm --batch-import OUTPUT --out ANNOTATIONS (same model and settings)\n", n, *export, *trajPath)
		}
		return err
	}
	anns, res, err := experiment.Annotate(context.Background(), trajs, spec, *out, ac, stderr)
	if err != nil && len(anns) == 0 && !errors.Is(err, advisor.ErrBudget) {
		return fmt.Errorf("annotate: %s: %w", *trajPath, err)
	}
	rep := res.Report
	if werr := experiment.WriteJSONL(*out, anns); werr != nil {
		return fmt.Errorf("annotate: %w", werr)
	}
	if err != nil && !errors.Is(err, advisor.ErrBudget) {
		// What was annotated is kept, but the command failed: a script
		// must not mistake a partial file for a finished one.
		return fmt.Errorf("annotate: kept %d annotations in %s, but the advisor failed (rerun with --force to retry; answered batches come from the cache): %w", len(anns), *out, err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"advisor": res.Advisor, "out": *out, "report": rep})
	}
	fmt.Fprintf(stdout, "%s advisor: %d critical states in %d trajectories → %s\n", res.Advisor, len(anns), len(trajs), *out)
	fmt.Fprintf(stdout, "requests %d, tokens %d prompt + %d completion, cache hits %d, failed batches %d",
		rep.Requests, rep.PromptTokens, rep.CompletionTokens, rep.CacheHits, rep.Failed)
	if len(rep.Rejected) > 0 {
		fmt.Fprintf(stdout, ", rejected %v", rep.Rejected)
	}
	if rep.BudgetExhausted {
		fmt.Fprint(stdout, " (budget exhausted)")
	}
	fmt.Fprintln(stdout)
	if *galleryDir != "" && len(anns) > 0 {
		g, err := gallery.Write(*galleryDir, spec, anns, trajs, gallery.Options{})
		if err != nil {
			return fmt.Errorf("annotate: --gallery: %w", err)
		}
		fmt.Fprintf(stdout, "gallery: %d critical states drawn → %s", g.Drawn, g.Index)
		if g.Missing > 0 {
			fmt.Fprintf(stdout, " (%d without a snapshot: collect with --snapshots)", g.Missing)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// checkGalleryDir refuses a gallery that cannot be drawn or would mix
// with other files, before any annotation is asked for.
func checkGalleryDir(dir string, force bool, spec env.Spec) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 && !force {
		return fmt.Errorf("directory %s is not empty (choose another, or --force to write into it)", dir)
	}
	return gallery.Check(spec)
}

// printPromptsCmd is annotate --print-prompts DIR.
func printPromptsCmd(af advisorFlags, trajPath, dir, export, out string, force, asJSON bool, stdout io.Writer) error {
	switch {
	case af.Name != "llm":
		return fmt.Errorf("annotate: --print-prompts writes the llm advisor's requests; add --advisor llm (got --advisor %s)", af.Name)
	case export != "" || af.batchImport != "" || out != "":
		return errors.New("annotate: --print-prompts sends nothing and writes no annotations: drop --out, --batch-export and --batch-import")
	case trajPath == "":
		return errors.New("annotate: --print-prompts needs --traj FILE")
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 && !force {
		return fmt.Errorf("annotate: --print-prompts directory %s is not empty (choose another, or --force to write into it)", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("annotate: --print-prompts: %w", err)
	}
	trajs, spec, ac, err := annotateInputs(trajPath, af)
	if err != nil {
		return err
	}
	infos, cov, err := experiment.PrintPrompts(trajs, spec, ac, dir)
	if err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"dir": dir, "requests": infos, "coverage": cov})
	}
	fmt.Fprintf(stdout, "wrote %d requests (%s settings: summary %s, %d tokens per episode, contrast %v, mode %s) to %s as .json and .txt; nothing was sent\n",
		len(infos), spec.ID, ac.LLM.Summary, ac.LLM.SummaryTokens, ac.LLM.Contrast, ac.LLM.Mode, dir)
	fmt.Fprintf(stdout, "prompt tokens (estimated): %.0f per request (max %d), %d for this annotate of %d episodes\n",
		cov.TokensPerRequest, cov.TokensMax, cov.TokensTotal, cov.Episodes)
	fmt.Fprintf(stdout, "coverage: %.1f%% of the last %d steps of the %d failed episodes citable; %d of %d scripted critical steps citable (%.1f%%)\n",
		100*cov.LastWindow, experiment.CoverageWindow, cov.Failed, cov.CriticalCitable, cov.Critical, 100*cov.CriticalShare())
	return nil
}

// annotateInputs reads the trajectories, looks up their task and builds the
// advisor's configuration: what annotating and printing prompts both need.
func annotateInputs(trajPath string, af advisorFlags) ([]traj.Trajectory, env.Spec, experiment.AdvisorConfig, error) {
	ac, err := af.config() // the flags before the files
	if err != nil {
		return nil, env.Spec{}, ac, fmt.Errorf("annotate: %w", err)
	}
	trajs, err := traj.ReadJSONL[traj.Trajectory](trajPath)
	if err != nil {
		return nil, env.Spec{}, ac, fmt.Errorf("annotate: %w", err)
	}
	if len(trajs) == 0 {
		return nil, env.Spec{}, ac, fmt.Errorf("annotate: %s holds no trajectories", trajPath)
	}
	spec, err := registry().Lookup(trajs[0].Env)
	if err != nil {
		return nil, env.Spec{}, ac, fmt.Errorf("annotate: %w", err)
	}
	return trajs, spec, ac, nil
}
