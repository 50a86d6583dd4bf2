package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/judge"
	"github.com/ultra-rl/ultra/engine/traj"
)

// JudgeDir is the directory of an experiment that holds the judgement of
// its annotations (judge.json, judge.md).
const JudgeDir = "judge"

// judgeStage judges every advisor's annotations in the simulator
// (engine/judge, its defaults, Jobs workers) into DIR/judge, after the
// annotate stage. It is done when judge.json judged the same files.
// Without Verified it decides no refinement's result, and the caller logs
// a failure and goes on without it.
func (c *Config) judgeStage(ctx context.Context, sh shared) error {
	names := make([]string, 0, len(sh.annPaths))
	for name := range sh.annPaths {
		names = append(names, name)
	}
	sort.Strings(names)
	in := judge.Inputs{Checkpoint: sh.ckPath, Trajectories: sh.trajPath, Registry: c.Registry}
	for _, n := range names {
		in.Annotations = append(in.Annotations, sh.annPaths[n])
	}
	if len(in.Annotations) == 0 {
		return nil
	}
	dir := filepath.Join(c.Out, JudgeDir)
	if prev, err := LoadJudge(c.Out); err == nil && slices.Equal(prev.Inputs, in.Files()) {
		c.Logger.Info("stage done, skipping", "stage", "judge", "dir", dir)
		return nil
	}
	cfg := judge.DefaultConfig()
	cfg.Jobs = c.Jobs
	res, judged, err := judge.Run(ctx, in, cfg)
	if err == nil {
		_, _, err = res.Write(dir, judged) // without a figure, the report says so
	}
	if err != nil {
		return err
	}
	c.Logger.Info("stage", "stage", "judge", "annotations", len(res.Verdicts), "env_steps", res.EnvSteps, "dir", dir)
	return nil
}

// useVerified points each advisor's annotations (advisor name → path) at
// its verified ones, refusing an advisor none of whose advice was
// verified.
func (c *Config) useVerified(annPaths map[string]string) error {
	for name, all := range annPaths {
		p := filepath.Join(c.Out, JudgeDir, judge.VerifiedFile(name))
		anns, err := traj.ReadJSONL[advisor.Annotation](p)
		if err != nil {
			return fmt.Errorf("judge: %w", err)
		}
		if len(anns) == 0 {
			return fmt.Errorf("judge: none of the %s advisor's annotations (%s) was verified (%s), so --verified leaves nothing to refine with: run without --verified, or annotate more episodes", name, all, judge.VerifiedThreshold)
		}
		annPaths[name] = p
		c.Logger.Info("refining with verified advice", "advisor", name, "annotations", len(anns), "file", p)
	}
	return nil
}

// LoadJudge reads the judgement of experiment directory dir's annotations.
func LoadJudge(dir string) (*judge.Result, error) {
	b, err := os.ReadFile(filepath.Join(dir, JudgeDir, judge.JSONFile))
	if err != nil {
		return nil, err
	}
	var r judge.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, JudgeDir, judge.JSONFile), err)
	}
	return &r, nil
}

// adviceQuality writes, under the results table, the judge's per-advisor
// summary, and returns one note per advisor for the notes list: how often
// the advice beat the agent's own action in the simulator, beside what
// refinement did with it. Nothing when the directory has no judgement.
func adviceQuality(w io.Writer, dir string, verified bool) []string {
	res, err := LoadJudge(dir)
	if err != nil {
		return nil
	}
	fmt.Fprintf(w, "\n### Advice quality, judged in the simulator (%s/judge.md)\n\n", JudgeDir)
	res.WriteSummary(w)
	fmt.Fprintf(w, "\n- From each annotated state, the suggested action against the action the agent took, each then the agent's policy: %d rollouts with common random numbers to %d steps; helps / hurts: the difference's 95%% t interval lies above / below 0.\n", res.Rollouts, res.Horizon)
	var notes []string
	for _, s := range res.Advisors {
		ci := ""
		if s.CI != nil {
			ci = fmt.Sprintf(" [%+.2f, %+.2f]", s.CI.Lo, s.CI.Hi)
		}
		n := fmt.Sprintf("Advice quality (%s/judge.md): the %s advisor's suggestion beat the agent's own action in %d of %d annotated states (%.0f%%) and lost in %d, mean Δ return %+.2f%s over up to %d steps.",
			JudgeDir, s.Advisor, s.Helps.Count, s.Annotations, 100*s.Helps.Share, s.Hurts.Count, s.MeanDiff, ci, res.Horizon)
		if verified {
			n += fmt.Sprintf(" --verified: refinement used only those %d (%s/%s).", s.Helps.Count, JudgeDir, judge.VerifiedFile(s.Advisor))
		}
		notes = append(notes, n)
	}
	return notes
}
