package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// An experiment is a plan of numbered work units over one directory, so
// that a cluster's own scheduler can run it (a Kubernetes Indexed Job, a
// Slurm array): Plan writes the settings and the units to plan.json; each
// RunUnit is one process that makes sure the shared stages (pretrain,
// collect, annotate) are done — exactly one unit runs them, under a lock in
// the directory, while the others wait — and then refines and evaluates
// one variant × seed; Report writes the tables once every unit is done.
// Run is the same on one machine: plan, the shared stages, every unit on
// Jobs workers in-process, report. The layout is the same either way, so a
// directory started on a laptop can be finished on a cluster, and back.

// PlanFile is the name of a directory's plan.
const PlanFile = "plan.json"

// stagesLock is the lock file the shared stages run under.
const stagesLock = "stages.lock"

// DefaultStageWait is how long a unit waits for another unit to finish the
// shared stages by default.
const DefaultStageWait = 3 * time.Hour

// Unit is one work unit: the refinement of one variant with one seed and
// the evaluation of its final policy, in refine/<variant>-s<seed>.
type Unit struct {
	Index   int           `json:"index"`
	Variant ultra.Variant `json:"variant"`
	Seed    uint64        `json:"seed"`
}

// Name is the unit's run directory name, e.g. "ultra-ra-s3".
func (u Unit) Name() string { return fmt.Sprintf("%s-s%d", u.Variant, u.Seed) }

// planVersion is the plan.json version this build writes and reads
// (version 2 records ultra.Settings).
const planVersion = 2

// planFile is what plan.json holds.
type planFile struct {
	Version      int    `json:"version"`
	Config       Config `json:"config"`
	PlannedSeeds int    `json:"planned_seeds"`
	Units        []Unit `json:"units"`
}

// Units lists the experiment's units: every variant × seed, variant-major.
func (c *Config) Units() []Unit {
	var us []Unit
	for _, v := range c.Variants {
		for s := 1; s <= c.Seeds; s++ {
			us = append(us, Unit{Index: len(us), Variant: v, Seed: uint64(s)})
		}
	}
	return us
}

// Plan validates c, records its settings in c.Out (refusing settings that
// change what finished stages were made with, as a rerun of Run does) and
// writes plan.json, and returns the units.
func Plan(c Config) ([]Unit, error) {
	if _, err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Checkpoint != "" {
		// Units start elsewhere (other pods, other nodes, another working
		// directory): the plan names the agent by its absolute path.
		abs, err := filepath.Abs(c.Checkpoint)
		if err != nil {
			return nil, err
		}
		c.Checkpoint = abs
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	return c.plan()
}

// plan records the settings and writes plan.json (after Validate).
func (c *Config) plan() ([]Unit, error) {
	if err := c.record(); err != nil {
		return nil, err
	}
	units := c.Units()
	b, err := json.MarshalIndent(planFile{Version: planVersion, Config: *c, PlannedSeeds: c.plannedSeeds, Units: units}, "", "  ")
	if err != nil {
		return nil, err
	}
	return units, atomicfile.Write(filepath.Join(c.Out, PlanFile), b)
}

// LoadPlan reads dir's plan: the settings into a Config (Out set to dir,
// Registry to reg; the fields saying how this process runs — metrics,
// logs, shutdown — are the caller's) and the units. Nothing in plan.json is
// trusted: its settings are validated as Run validates them, its units must
// be exactly the ones those settings plan (a unit names a directory that a
// fresh start deletes), and its settings must be those experiment.json
// records, so that every unit of a table runs the same settings.
func LoadPlan(dir string, reg *env.Registry) (Config, []Unit, error) {
	path := filepath.Join(dir, PlanFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("%s has no plan (%v): run 'ultra sweep plan --out %s ...' first", dir, err, dir)
	}
	var pf planFile
	if err := json.Unmarshal(b, &pf); err != nil || pf.Version != planVersion {
		if err == nil && pf.Version == 1 {
			return Config{}, nil, fmt.Errorf("%s was written by an older ultra (plan version 1, before ultra.Settings): run 'ultra sweep plan' again with the same flags (the finished stages and runs are kept)", path)
		}
		return Config{}, nil, fmt.Errorf("%s: unreadable plan (version %d, want %d): %v", path, pf.Version, planVersion, err)
	}
	c := pf.Config
	c.Out, c.Registry, c.plannedSeeds, c.Jobs = dir, reg, pf.PlannedSeeds, 1 // a unit is one job
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: %s: plan the sweep again with ultra sweep plan", path, fmt.Sprintf(format, a...))
	}
	if _, err := c.Validate(); err != nil {
		return Config{}, nil, bad("%v", err)
	}
	want := c.Units()
	if len(pf.Units) != len(want) {
		return Config{}, nil, bad("%d units where its variants and seeds make %d", len(pf.Units), len(want))
	}
	for i, u := range pf.Units {
		if u != want[i] {
			return Config{}, nil, bad("unit %d is %+v where its variants and seeds make %+v", i, u, want[i])
		}
	}
	rec, ok, err := loadSettings(dir, reg)
	switch {
	case err != nil:
		return Config{}, nil, bad("%v", err)
	case !ok:
		return Config{}, nil, bad("%s has no %s to check it against", dir, settingsFile)
	}
	if diffs := rec.differences(c.settings()); len(diffs) > 0 {
		return Config{}, nil, bad("its settings differ from %s's: %s", settingsFile, strings.Join(diffs, ", "))
	}
	return c, pf.Units, nil
}

// Previous reads an experiment directory's recorded configuration, so that
// a rerun need name only what it changes (more seeds, more variants, more
// jobs): its plan.json, checked as LoadPlan checks it, with every variant
// the directory has been run with and the most seeds it has had. ok is
// false when dir holds no experiment yet. What the rerun then changes is
// validated as any configuration is (Validate, and the record's check
// when it runs).
func Previous(dir string, reg *env.Registry) (c Config, ok bool, err error) {
	rec, ok, err := loadSettings(dir, reg)
	if err != nil || !ok {
		return Config{}, ok, err
	}
	if c, _, err = LoadPlan(dir, reg); err != nil {
		return Config{}, true, err
	}
	c.Variants = c.Variants[:0]
	for _, v := range rec.Variants {
		c.Variants = append(c.Variants, ultra.Variant(v))
	}
	c.Seeds = max(c.Seeds, rec.Seeds)
	return c, true, nil
}

// shared is where the shared stages left their outputs.
type shared struct {
	ckPath, trajPath string
	annPaths         map[string]string // advisor name → annotations
}

// sharedStages pretrains, collects and annotates (each skipped when done)
// under the directory's stages lock, waiting up to wait (0: not at all)
// for another process that holds it.
func (c *Config) sharedStages(ctx context.Context, spec env.Spec, wait time.Duration) (shared, error) {
	lock, err := run.AcquireFile(ctx, filepath.Join(c.Out, stagesLock), wait,
		"the shared stages (pretrain, collect, annotate) of "+c.Out, c.Logger)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return shared{}, run.ErrInterrupted
	}
	if err != nil {
		return shared{}, err
	}
	defer lock.Release()
	var sh shared
	if sh.ckPath, err = c.pretrain(ctx, spec); err != nil {
		return sh, fmt.Errorf("pretrain: %w", err)
	}
	if sh.trajPath, err = c.collect(sh.ckPath, spec); err != nil {
		return sh, fmt.Errorf("collect: %w", err)
	}
	sh.annPaths = map[string]string{}
	for _, v := range c.Variants {
		name := v.Behaviour().AdvisorName(c.Advisor.Name)
		if name == "" || sh.annPaths[name] != "" {
			continue
		}
		if sh.annPaths[name], err = c.annotate(ctx, name, sh.trajPath, spec); err != nil {
			return sh, fmt.Errorf("annotate with %s: %w", name, err)
		}
	}
	err = c.judgeStage(ctx, sh)
	if !c.Verified {
		if err != nil {
			c.Logger.Warn("advice not judged: the report goes without advice quality", "err", err,
				"fix", "ultra judge --checkpoint "+sh.ckPath+" --traj "+sh.trajPath+" --annotations ANNOTATIONS --out "+filepath.Join(c.Out, JudgeDir))
		}
		return sh, nil
	}
	if err != nil {
		return sh, fmt.Errorf("judge (--verified refines with the advice the judge confirms): %w", err)
	}
	return sh, c.useVerified(sh.annPaths)
}

// failedFile marks a unit that ended with an error, holding the error.
const failedFile = "failed.txt"

// runUnit runs one unit under its lock and records its failure, if any,
// for Report. The lock (refine/.NAME.lock, beside the run directory, which
// a fresh start may delete) keeps a second process of the same unit — a
// replacement pod started while the old one terminates — from touching the
// run: it waits up to wait for the first to finish, then finds the unit
// done (or resumes what a dead holder left, the kernel having released its
// lock).
func (c *Config) runUnit(ctx context.Context, u Unit, sh shared, wait time.Duration) (report.Run, error) {
	if err := os.MkdirAll(filepath.Join(c.Out, "refine"), 0o755); err != nil {
		return report.Run{}, err
	}
	lock, err := run.AcquireFile(ctx, filepath.Join(c.Out, "refine", "."+u.Name()+".lock"), wait, "unit "+u.Name(), c.Logger)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return report.Run{}, run.ErrInterrupted
	}
	if err != nil {
		return report.Run{}, err
	}
	defer lock.Release()
	rr, err := c.refineOne(ctx, u.Variant, u.Seed, sh.ckPath, sh.trajPath, sh.annPaths)
	marker := filepath.Join(c.Out, "refine", u.Name(), failedFile)
	switch {
	case err == nil:
		os.Remove(marker)
	case ctx.Err() == nil && !errors.Is(err, run.ErrInterrupted):
		os.MkdirAll(filepath.Dir(marker), 0o755)
		atomicfile.Write(marker, []byte(err.Error()+"\n"))
	}
	return rr, err
}

// RunUnit runs unit index of the planned directory c.Out (c from
// LoadPlan): the shared stages first, waiting up to wait for a unit that
// is running them, then its refinement and evaluation. A finished unit
// returns at once; a unit stopped or killed and started again continues
// from its run's last checkpoint. Cancelling ctx stops it after the
// current iteration with a checkpoint and run.ErrInterrupted.
func RunUnit(ctx context.Context, c Config, units []Unit, index int, wait time.Duration) error {
	switch {
	case len(units) == 0:
		return fmt.Errorf("unit %d: the plan in %s has no units: plan it again with ultra sweep plan", index, c.Out)
	case index < 0 || index >= len(units):
		return fmt.Errorf("unit %d: the plan in %s has units 0 to %d", index, c.Out, len(units)-1)
	}
	spec, err := c.Registry.Lookup(c.Env)
	if err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Jobs = 1
	u := units[index]
	if done(&c, u) {
		c.Logger.Info("unit done", "unit", index, "run", u.Name())
		return nil
	}
	sh, err := c.sharedStages(ctx, spec, wait)
	if err != nil {
		return err
	}
	_, err = c.runUnit(ctx, u, sh, wait)
	return err
}

// done reports whether u's evaluation is written.
func done(c *Config, u Unit) bool {
	_, err := readEval(filepath.Join(c.Out, "refine", u.Name(), "eval.json"), c.EvalEpisodes)
	return err == nil
}

// readEval reads a unit's evaluation, which must hold episodes returns.
func readEval(path string, episodes int) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ev evalResult
	if err := json.Unmarshal(b, &ev); err != nil || len(ev.Returns) != episodes {
		return nil, fmt.Errorf("%s holds %d returns, want %d (%v)", path, len(ev.Returns), episodes, err)
	}
	return ev.Returns, nil
}

// Report writes results.md/csv, the plots and report.html of a planned
// directory (c from LoadPlan) as Run does, from the units' evaluations. A
// unit without one — missing, or failed with the error it recorded — makes
// it an error naming each such unit.
func Report(c Config, units []Unit) (*Result, error) {
	var missing []string
	runs := make([]report.Run, 0, len(units))
	for _, u := range units {
		dir := filepath.Join(c.Out, "refine", u.Name())
		ret, err := readEval(filepath.Join(dir, "eval.json"), c.EvalEpisodes)
		if err != nil {
			why := "not run or not finished"
			if b, ferr := os.ReadFile(filepath.Join(dir, failedFile)); ferr == nil {
				why = "failed: " + strings.TrimSpace(string(b))
			}
			missing = append(missing, fmt.Sprintf("unit %d (%s) %s", u.Index, u.Name(), why))
			continue
		}
		rr := report.Run{Variant: string(u.Variant), Seed: u.Seed, Eval: ret}
		if u.Variant != ultra.PPO {
			rr.Dose = LoadDose(dir)
		}
		if rr.Curve, err = report.LoadCurve(filepath.Join(dir, run.MetricsJSONL)); err != nil {
			return nil, err
		}
		runs = append(runs, rr)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%d of %d units have no evaluation: %s", len(missing), len(units), strings.Join(missing, "; "))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c.report(runs, 0)
}
