package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/judge"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// JudgeDir is the directory of an experiment that holds the judgement of
// its annotations (judge.json, judge.md).
const JudgeDir = "judge"

// judgeStage judges every advisor's annotations in the simulator
// (engine/judge, its defaults, Jobs workers) into DIR/judge, after the
// annotate stage. It is done when judge.json judged the same files; it
// decides no refinement's result, so a failure is logged with its cause
// and the experiment goes on without it.
func (c *Config) judgeStage(ctx context.Context, sh shared) {
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
		return
	}
	dir := filepath.Join(c.Out, JudgeDir)
	if prev, err := LoadJudge(c.Out); err == nil && slices.Equal(prev.Inputs, append(slices.Clone(in.Annotations), in.Trajectories)) {
		c.Logger.Info("stage done, skipping", "stage", "judge", "dir", dir)
		return
	}
	cfg := judge.DefaultConfig()
	cfg.Jobs = c.Jobs
	res, judged, err := judge.Run(ctx, in, cfg)
	if err == nil {
		err = writeJudge(dir, res, judged)
	}
	if err != nil {
		c.Logger.Warn("advice not judged: the report goes without advice quality", "err", err, "fix", "ultra judge --checkpoint "+sh.ckPath+" --traj "+sh.trajPath+" --annotations ... --out "+dir)
		return
	}
	c.Logger.Info("stage", "stage", "judge", "annotations", len(res.Verdicts), "env_steps", res.EnvSteps, "dir", dir)
}

// writeJudge writes each advisor's verified annotations
// (judge.VerifiedFile), then judge.md and judge.json into dir: judge.json,
// which marks the stage done, last.
func writeJudge(dir string, res *judge.Result, judged []advisor.Annotation) error {
	var js, md bytes.Buffer
	if err := errors.Join(res.WriteJSON(&js), res.WriteMarkdown(&md)); err != nil {
		return err
	}
	verified, err := res.Verified(judged)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, anns := range verified {
		if err := WriteJSONL(filepath.Join(dir, judge.VerifiedFile(name)), anns); err != nil {
			return err
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, "judge.md"), md.Bytes()); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "judge.json"), js.Bytes())
}

// LoadJudge reads the judgement of experiment directory dir's annotations.
func LoadJudge(dir string) (*judge.Result, error) {
	b, err := os.ReadFile(filepath.Join(dir, JudgeDir, "judge.json"))
	if err != nil {
		return nil, err
	}
	var r judge.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, JudgeDir, "judge.json"), err)
	}
	return &r, nil
}

// adviceQuality writes, under the results table, the judge's per-advisor
// summary, and returns one note per advisor for the notes list: how often
// the advice beat the agent's own action in the simulator, beside what
// refinement did with it. Nothing when the directory has no judgement.
func adviceQuality(w io.Writer, dir string) []string {
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
		notes = append(notes, fmt.Sprintf("Advice quality (%s/judge.md): the %s advisor's suggestion beat the agent's own action in %d of %d annotated states (%.0f%%) and lost in %d, mean Δ return %+.2f%s over up to %d steps.",
			JudgeDir, s.Advisor, s.Helps.Count, s.Annotations, 100*s.Helps.Share, s.Hurts.Count, s.MeanDiff, ci, res.Horizon))
	}
	return notes
}
