package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// tiny is the smallest hopper experiment: one iteration of pretraining and
// of refinement, two collected episodes, one seed.
func tiny(t *testing.T, dir string, log *strings.Builder) Config { return tinyTB(t, dir, log) }

// tinyTB is tiny for tests and fuzz targets.
func tinyTB(t testing.TB, dir string, log *strings.Builder) Config {
	t.Helper()
	reg := env.NewRegistry(append(tasks.Specs(), pong.Specs()...)...)
	spec, err := reg.Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	return Config{Env: "hopper", Out: dir, PretrainSteps: 2048, PretrainSeed: 1, CollectEpisodes: 2,
		Advisor: AdvisorConfig{Name: "scripted", PerEpisode: 3}, Variants: []ultra.Variant{ultra.PPO, ultra.UltraA},
		Seeds: 1, RefineSteps: 2048, EvalEpisodes: 1, EvalSeed: 1000, Jobs: 1,
		Settings: ultra.DefaultSettings(spec, 2048), Registry: reg, Logger: slog.New(slog.NewTextHandler(log, nil))}
}

// TestRunStagesResumeAndRefusals runs Run directly: every stage writes its
// output; an interrupted pretraining resumes from its checkpoint; a rerun
// skips every finished stage and writes the same table; a rerun with other
// settings is refused, naming each (issue 26: the package was tested only
// through the CLI).
func TestRunStagesResumeAndRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("experiment run skipped in -short mode")
	}
	dir := t.TempDir()
	var log strings.Builder
	c := tiny(t, dir, &log)
	c.PretrainSteps = 4096 // two iterations: the interruption lands in the first
	// Interrupted during pretraining: the checkpoint is written, Run says so.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Run(ctx, c); !errors.Is(err, run.ErrInterrupted) {
		t.Fatalf("an interrupted run returned %v, want run.ErrInterrupted", err)
	}
	if _, err := run.LoadCheckpoint(filepath.Join(dir, "pretrain")); err != nil {
		t.Fatalf("no pretraining checkpoint after the interruption: %v", err)
	}
	log.Reset()
	res, err := Run(t.Context(), c)
	if err != nil {
		t.Fatal(err, log.String())
	}
	if !strings.Contains(log.String(), "resuming pretraining") {
		t.Errorf("the pretraining did not resume:\n%s", log.String())
	}
	for _, f := range []string{"experiment.json", "plan.json", "collect/episodes.jsonl", "annotate/scripted.jsonl",
		"refine/ppo-s1/eval.json", "refine/ultra-a-s1/eval.json", "refine/ultra-a-s1/modulator.json", "results.md", "results.csv", "report.html", "judge/judge.json", "judge/judge.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("stage output %s: %v", f, err)
		}
	}
	// The advice is judged after annotate, its summary beside the table.
	for _, want := range []string{"### Advice quality, judged in the simulator (judge/judge.md)", "| scripted | 6 | ", "Advice quality (judge/judge.md): the scripted advisor's suggestion beat the agent's own action in "} {
		if !strings.Contains(res.Markdown, want) {
			t.Errorf("results.md lacks %q:\n%s", want, res.Markdown)
		}
	}
	sum, err := ultra.ReadSummary(filepath.Join(dir, "refine", "ultra-a-s1", ultra.SummaryFile))
	if err != nil || sum.Variant != ultra.UltraA || sum.Settings != c.Settings || sum.Lookups == 0 {
		t.Errorf("ultra-a's summary %+v, %v", sum, err)
	}
	// A rerun skips everything and writes the same table.
	log.Reset()
	again, err := Run(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "skipping"); n != 1+1+1+1+2 || strings.Contains(log.String(), "msg=refining") {
		t.Errorf("the rerun skipped %d stages, want 6 (pretrain, collect, annotate, judge, 2 refinements):\n%s", n, log.String())
	}
	table := func(md string) string { return md[:strings.Index(md, "- Sub-optimal")] }
	if table(again.Markdown) != table(res.Markdown) {
		t.Errorf("the rerun's table differs:\n%s\nvs\n%s", again.Markdown, res.Markdown)
	}
	// Other settings are refused, naming each; nothing is rerun.
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"alpha", func(c *Config) { c.Settings.Alpha = 0.3 }, "alpha 0.1 (now 0.3)"},
		{"imitation and target", func(c *Config) { c.Settings.Imitation, c.Settings.TargetHitRate = 2, 0.05 }, "imitation 1 (now 2)"},
		{"refine steps", func(c *Config) { c.RefineSteps = 4096 }, "refine steps 2048 (now 4096)"},
		{"advisor", func(c *Config) { c.Advisor.Name = "random" }, "advisor scripted (now random)"},
		{"verified advice only", func(c *Config) { c.Verified = true }, "verified false (now true)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c2 := c
			tc.edit(&c2)
			if _, err := Run(t.Context(), c2); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a refusal naming %q", err, tc.want)
			}
		})
	}
}

// TestConfigValidateRefuses: what Validate refuses before anything is
// written, each with the fix in the message.
func TestConfigValidateRefuses(t *testing.T) {
	var log strings.Builder
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no seeds", func(c *Config) { c.Seeds = 0 }, "want seeds, jobs, eval episodes ≥ 1"},
		{"no eval episodes", func(c *Config) { c.EvalEpisodes = 0 }, "eval episodes ≥ 1"},
		{"seeds past any table", func(c *Config) { c.Seeds = MaxSeeds + 1 }, "split the runs"},
		{"a variant twice", func(c *Config) { c.Variants = []ultra.Variant{ultra.PPO, ultra.PPO} }, "listed twice"},
		{"an unknown variant", func(c *Config) { c.Variants = []ultra.Variant{"ultra-x"} }, "unknown variant"},
		{"zero settings", func(c *Config) { c.Settings = ultra.Settings{} }, "start from ultra.DefaultSettings"},
		{"pixels", func(c *Config) { c.Env = "pong-pixels" }, "observes pixels"},
		{"imitation on the GPU", func(c *Config) { c.Variants, c.Device = []ultra.Variant{ultra.UltraI}, "cuda" }, "only the CPU networks have"},
		{"expert without a checkpoint", func(c *Config) { c.Advisor.Name = "expert" }, "--expert CHECKPOINT"},
		{"refine shorter than an iteration", func(c *Config) { c.RefineSteps = 100 }, "less than one iteration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tiny(t, t.TempDir(), &log)
			tc.edit(&c)
			if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(c.Out); len(ents) != 0 {
				t.Errorf("Validate wrote %d files", len(ents))
			}
		})
	}
}

// TestLegacyRecordIsRead: a directory recorded before ultra.Settings (its
// experiment.json holds the old tuning, with -1 for "the task's alpha" and
// "the first half") is read as the settings it ran with, so a rerun with
// today's defaults is accepted, and one with other settings is refused.
func TestLegacyRecordIsRead(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	c := tiny(t, dir, &log)
	legacy := `{"env": "hopper", "pretrain_steps": 2048, "pretrain_seed": 1, "collect_episodes": 2, "advisor": "scripted",
  "critical_per_episode": 3, "refine_steps": 2048, "eval_episodes": 1, "eval_seed": 1000,
  "tuning": {"Alpha": -1, "Radius": 0, "RadiusQuantile": 0.5, "TargetHitRate": 0.02, "MatchSpace": "full", "OverrideProb": 1,
    "OverrideEnd": 0, "AnnealSteps": -1, "ResetProb": 0.5, "RewardOn": "action", "ActionTolerance": 0.1},
  "variants": ["ppo"], "seeds": 1, "planned_seeds": 1}`
	if err := os.WriteFile(filepath.Join(dir, settingsFile), []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.record(); err != nil {
		t.Fatalf("today's defaults against the legacy record: %v", err)
	}
	s, ok, err := loadSettings(dir, c.Registry)
	if err != nil || !ok || s.Settings != c.Settings || s.Tuning != nil {
		t.Fatalf("rewritten record: %+v, %v", s, err)
	}
	os.WriteFile(filepath.Join(dir, settingsFile), []byte(strings.Replace(legacy, `"RewardOn": "action", `, "", 1)), 0o644)
	if err := c.record(); err == nil || !strings.Contains(err.Error(), "reward on state (now action)") {
		t.Errorf("a legacy record without reward-on (those runs judged the state): %v", err)
	}
}

// TestUnitLock: a second process of the same sweep unit (a replacement pod
// started while the old one terminates) waits for the unit's lock instead
// of deleting the first's run directory, then finds the unit done; a unit
// waiting for a lock stops when its context is cancelled (SIGTERM), not
// after the wait (issue 27, items 1 and 10).
func TestUnitLock(t *testing.T) {
	if testing.Short() {
		t.Skip("unit lock test skipped in -short mode")
	}
	dir := t.TempDir()
	var log strings.Builder
	c := tiny(t, dir, &log)
	c.Variants = []ultra.Variant{ultra.PPO}
	units, err := Plan(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, units, err := LoadPlan(dir, c.Registry)
	if err != nil {
		t.Fatal(err)
	}
	c2.Logger = c.Logger
	// The shared stages first, as the first unit would have run them.
	if err := RunUnit(t.Context(), c2, units, 0, 0); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "refine", "ppo-s1")
	os.Remove(filepath.Join(unit, "eval.json")) // the first process is still refining
	first, err := run.AcquireFile(t.Context(), filepath.Join(dir, "refine", ".ppo-s1.lock"), 0, "unit ppo-s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- RunUnit(t.Context(), c2, units, 0, 30*time.Second) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the second process did not wait for the first: %v", err)
	default:
	}
	if _, err := os.Stat(filepath.Join(unit, "refine.log")); err != nil {
		t.Fatalf("the second process touched the first's run: %v", err)
	}
	// The first finishes its evaluation and exits.
	if err := os.WriteFile(filepath.Join(unit, "eval.json"), []byte(`{"variant":"ppo","seed":1,"returns":[1]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	first.Release()
	if err := <-done; err != nil {
		t.Fatalf("the second process, once the first finished: %v", err)
	}
	if _, err := os.Stat(filepath.Join(unit, failedFile)); err == nil {
		t.Error("the second process marked the first's unit failed")
	}
	// Waiting on a held lock, a cancelled unit stops at once.
	os.Remove(filepath.Join(unit, "eval.json"))
	held, _ := run.AcquireFile(t.Context(), filepath.Join(dir, "refine", ".ppo-s1.lock"), 0, "unit ppo-s1", nil)
	defer held.Release()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := RunUnit(ctx, c2, units, 0, 3*time.Hour); !errors.Is(err, run.ErrInterrupted) || time.Since(start) > 10*time.Second {
		t.Errorf("a cancelled unit waiting for the lock: %v after %v", err, time.Since(start))
	}
	stages, _ := run.AcquireFile(t.Context(), filepath.Join(dir, stagesLock), 0, "stages", nil)
	defer stages.Release()
	ctx2, cancel2 := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel2()
	if err := RunUnit(ctx2, c2, units, 0, 3*time.Hour); !errors.Is(err, run.ErrInterrupted) {
		t.Errorf("a cancelled unit waiting for the shared stages: %v", err)
	}
	if err := RunUnit(t.Context(), c2, nil, 0, 0); err == nil || !strings.Contains(err.Error(), "has no units") {
		t.Errorf("an empty plan: %v", err)
	}
}

// TestPlanIsChecked: nothing in plan.json is trusted: a unit naming a path
// outside the experiment, settings edited away from experiment.json's and
// impossible values are refused before anything is touched, naming
// plan.json; a relative checkpoint is planned as an absolute path (issue
// 27, items 2 and 16).
func TestPlanIsChecked(t *testing.T) {
	var log strings.Builder
	work := t.TempDir()
	agent := filepath.Join(work, "agent")
	tr := tiny(t, filepath.Join(work, "pre"), &log)
	if _, err := Run(t.Context(), tr); err != nil { // an agent to plan from
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(work, "pre", "pretrain"), agent); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	dir := filepath.Join(work, "sweep")
	c := tiny(t, dir, &log)
	c.Checkpoint = "agent/checkpoint.bin"
	if _, err := Plan(c); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, PlanFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"checkpoint": "`+filepath.Join(work, "agent", "checkpoint.bin")+`"`) {
		t.Errorf("plan.json does not name the checkpoint by its absolute path:\n%s", b)
	}
	victim := filepath.Join(work, "victim")
	os.MkdirAll(victim, 0o755)
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"a unit outside the experiment", `"variant": "ppo"`, `"variant": "../../victim"`, "unit 0 is"},
		{"another env", `"env": "hopper"`, `"env": "walker2d"`, `trained on "hopper", not "walker2d"`},
		{"another eval seed", `"eval_seed": 1000`, `"eval_seed": 7`, "eval seed 1000 (now 7)"},
		{"other refine steps", `"refine_steps": 2048`, `"refine_steps": 999999`, "refine steps 2048 (now 999999)"},
		{"no evaluation", `"eval_episodes": 1`, `"eval_episodes": 0`, "eval episodes ≥ 1"},
		{"a unit fewer", `"units": [`, `"units": [], "x": [`, "0 units where"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(b), tc.from) {
				t.Fatalf("plan.json lacks %q", tc.from)
			}
			os.WriteFile(filepath.Join(dir, PlanFile), []byte(strings.Replace(string(b), tc.from, tc.to, 1)), 0o644)
			_, _, err := LoadPlan(dir, c.Registry)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), PlanFile) {
				t.Errorf("got %v, want an error naming plan.json and %q", err, tc.want)
			}
			if _, err := os.Stat(victim); err != nil {
				t.Fatal("the victim directory is gone")
			}
		})
	}
}

// TestAnnotationProvenance: annotations carry their task, the fingerprint
// of their episodes and their advisor, and every consumer checks them:
// another experiment's annotations (same episode ids, other states), the
// scripted advisor's offered as the llm stage, annotations of another task
// in a refinement (issue 27, item 3).
func TestAnnotationProvenance(t *testing.T) {
	if testing.Short() {
		t.Skip("provenance test skipped in -short mode")
	}
	var log strings.Builder
	dir := t.TempDir()
	c := tiny(t, dir, &log)
	if _, err := Run(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(dir, "annotate", "scripted.jsonl")
	anns, err := traj.ReadJSONL[advisor.Annotation](own)
	if err != nil || len(anns) == 0 || anns[0].Env != "hopper" || anns[0].Trajectories == "" || anns[0].Source != "scripted" {
		t.Fatalf("the stage's annotations carry no provenance: %+v, %v", anns, err)
	}
	spec, _ := c.Registry.Lookup("hopper")
	trajs, _ := traj.ReadFor(filepath.Join(dir, "collect", "episodes.jsonl"), spec)
	write := func(name string, edit func(*advisor.Annotation)) string {
		out := append([]advisor.Annotation(nil), anns...)
		for i := range out {
			edit(&out[i])
		}
		p := filepath.Join(t.TempDir(), name)
		if err := WriteJSONL(p, out); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		edit func(*advisor.Annotation)
		want string
	}{
		{"the scripted advisor's as the llm stage", func(*advisor.Annotation) {}, "made by the scripted advisor, not llm"},
		{"another experiment's episodes", func(a *advisor.Annotation) { a.Source, a.Trajectories = "llm", "0123" }, "made from other episodes"},
		{"another task", func(a *advisor.Annotation) { a.Source, a.Env = "llm", "walker2d" }, "made for walker2d, not hopper"},
		{"no provenance", func(a *advisor.Annotation) { a.Source, a.Env = "llm", "" }, "names no task"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write("llm.jsonl", tc.edit)
			if err := importAnnotations(p, filepath.Join(t.TempDir(), "x.jsonl"), trajs, spec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("--llm-annotations: %v, want %q", err, tc.want)
			}
		})
	}
	// A refinement of hopper refuses annotations made for another task.
	other := write("walker.jsonl", func(a *advisor.Annotation) { a.Env = "walker2d" })
	r := Refinement{Checkpoint: filepath.Join(dir, "pretrain", "checkpoint.bin"), Out: filepath.Join(t.TempDir(), "r"), Variant: ultra.UltraA,
		Steps: 2048, Seed: 1, Settings: c.Settings, Annotations: other, Registry: c.Registry, Logger: c.Logger}
	if _, err := Refine(t.Context(), r); err == nil || !strings.Contains(err.Error(), "made for walker2d, not hopper") {
		t.Errorf("refine with walker2d annotations: %v", err)
	}
	// The stage's own file from before provenance is adopted, not re-asked.
	legacy := append([]advisor.Annotation(nil), anns...)
	advisor.Stamp(legacy, "", "")
	WriteJSONL(own, legacy)
	log.Reset()
	if _, err := Run(t.Context(), c); err != nil || !strings.Contains(log.String(), "stage done, skipping\" stage=annotate") {
		t.Fatalf("rerun over legacy annotations: %v\n%s", err, log.String())
	}
	if again, _ := traj.ReadJSONL[advisor.Annotation](own); again[0].Env != "hopper" || again[0].Trajectories != anns[0].Trajectories {
		t.Errorf("legacy annotations were not given the directory's provenance: %+v", again[0])
	}
}

// TestReportOfHugeReturns: a sweep report over an evaluation of 1e308
// writes finite statistics and a fresh page, not +Inf beside a stale
// report.html (issue 27, item 18).
func TestReportOfHugeReturns(t *testing.T) {
	if testing.Short() {
		t.Skip("report test skipped in -short mode")
	}
	dir := t.TempDir()
	var log strings.Builder
	c := tiny(t, dir, &log)
	c.Seeds = 5
	c.Variants = []ultra.Variant{ultra.PPO}
	units, err := Plan(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		d := filepath.Join(dir, "refine", u.Name())
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "eval.json"), []byte(fmt.Sprintf(`{"variant":"ppo","seed":%d,"returns":[1e308]}`, u.Seed)), 0o644)
		os.WriteFile(filepath.Join(d, run.MetricsJSONL), []byte(`{"global_step":2048,"return_last10":5}`+"\n"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "report.html"), []byte("stale"), 0o644)
	c2, units, err := LoadPlan(dir, c.Registry)
	if err != nil {
		t.Fatal(err)
	}
	c2.Logger = c.Logger
	if _, err := Report(c2, units); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "results.md"))
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if strings.Contains(string(md), "Inf") || strings.Contains(string(md), "NaN") || string(page) == "stale" {
		t.Errorf("results.md:\n%s\nreport.html fresh: %v", md, string(page) != "stale")
	}
}

// TestVerifiedAdviceOnly: with Verified, every refinement reads the
// annotations the judge stage confirmed (judge/verified-scripted.jsonl),
// and the report says how many there were.
func TestVerifiedAdviceOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("experiment run skipped in -short mode")
	}
	dir := t.TempDir()
	var log strings.Builder
	c := tiny(t, dir, &log)
	c.CollectEpisodes, c.Variants, c.Verified = 4, []ultra.Variant{ultra.UltraA}, true
	res, err := Run(t.Context(), c)
	if err != nil {
		t.Fatal(err, log.String())
	}
	jr, err := LoadJudge(dir)
	if err != nil {
		t.Fatal(err)
	}
	kept := jr.Advisors[0].Helps.Count
	verified, err := traj.ReadJSONL[advisor.Annotation](filepath.Join(dir, "judge", "verified-scripted.jsonl"))
	if err != nil || len(verified) != kept || kept == 0 || kept == jr.Advisors[0].Annotations {
		t.Fatalf("%d verified annotations (%v), the judge kept %d of %d: want some, not all", len(verified), err, kept, jr.Advisors[0].Annotations)
	}
	if !strings.Contains(log.String(), fmt.Sprintf("refining with verified advice\" advisor=scripted annotations=%d", kept)) {
		t.Errorf("the log does not say the verified advice is used:\n%s", log.String())
	}
	if want := fmt.Sprintf("--verified: refinement used only those %d (judge/verified-scripted.jsonl).", kept); !strings.Contains(res.Markdown, want) {
		t.Errorf("results.md lacks %q:\n%s", want, res.Markdown)
	}
}
