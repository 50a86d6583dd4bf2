package judge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// Inputs names the files a judgement reads.
type Inputs struct {
	// Checkpoint is the agent whose policy follows the first action.
	Checkpoint string
	// Annotations are JSONL files of annotations (one advisor or several).
	Annotations []string
	// Trajectories, optional, are the episodes the annotations were made
	// from: their fingerprint is checked, and annotations without a
	// snapshot or a taken action take them from the episode's step.
	Trajectories string
	Registry     *env.Registry
}

// Files lists the input files a judgement depends on: the annotations, then
// the trajectories when given (Result.Inputs).
func (in Inputs) Files() []string {
	files := slices.Clone(in.Annotations)
	if in.Trajectories != "" {
		files = append(files, in.Trajectories)
	}
	return files
}

// Run reads the inputs, checks them (every problem named with its fix)
// and judges every annotation. It returns the annotations as judged (with
// snapshots and taken actions filled in from the trajectories), in the
// order of the verdicts.
func Run(ctx context.Context, in Inputs, cfg Config) (*Result, []advisor.Annotation, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("judge: %w", err)
	}
	if in.Checkpoint == "" || len(in.Annotations) == 0 {
		return nil, nil, errors.New("judge: a checkpoint and annotations are required")
	}
	ck, err := ppo.LoadCheckpoint(in.Checkpoint)
	if err != nil {
		return nil, nil, fmt.Errorf("judge: %w", err)
	}
	spec, err := in.Registry.Lookup(ck.Config.Env)
	if err != nil {
		return nil, nil, fmt.Errorf("judge: %w", err)
	}
	anns, err := ReadAnnotations(spec, in.Annotations, in.Trajectories)
	if err != nil {
		return nil, nil, fmt.Errorf("judge: %w", err)
	}
	newPolicy := func() (Policy, error) { return ppo.NewPolicy(ck, spec, false, cfg.Seed) }
	res, err := judgeChecked(ctx, spec, newPolicy, anns, cfg) // ReadAnnotations checked them
	if err != nil {
		return nil, nil, err
	}
	res.Checkpoint = in.Checkpoint
	res.Inputs = in.Files()
	res.WallSeconds = time.Since(start).Seconds()
	return res, anns, nil
}

// ReadAnnotations reads the annotation files for spec's task, checks
// their provenance and, given the trajectories they came from, fills in
// missing snapshots and taken actions from them; then checks that every
// annotation can be judged (Check).
func ReadAnnotations(spec env.Spec, paths []string, trajPath string) ([]advisor.Annotation, error) {
	var trajs []traj.Trajectory
	fingerprint := ""
	if trajPath != "" {
		var err error
		if trajs, err = traj.ReadFor(trajPath, spec); err != nil {
			return nil, err
		}
		fingerprint = traj.Fingerprint(trajs)
	}
	byID := map[string]*traj.Trajectory{}
	for i := range trajs {
		byID[trajs[i].ID] = &trajs[i]
	}
	snapLen, err := env.SnapshotLen(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.ID, err)
	}
	var all []advisor.Annotation
	for _, p := range paths {
		anns, err := traj.ReadJSONL[advisor.Annotation](p)
		if err != nil {
			return nil, err
		}
		if err := advisor.CheckProvenance(anns, p, spec.ID, fingerprint, ""); err != nil {
			return nil, err
		}
		for i := range anns {
			a := &anns[i]
			if a.Snapshot != nil && a.Taken != nil || trajPath == "" {
				continue
			}
			t := byID[a.Episode]
			if t == nil || a.Step >= t.Len() {
				return nil, fmt.Errorf("%s:%d: episode %q step %d is not in %s", p, i+1, a.Episode, a.Step, trajPath)
			}
			if a.Snapshot == nil && t.Snapshots != nil {
				a.Snapshot = t.Snapshots[a.Step]
			}
			if a.Taken == nil {
				a.Taken = append([]float32(nil), t.ActionAt(a.Step)...)
			}
		}
		if err := Check(spec, anns, snapLen, p); err != nil {
			return nil, err
		}
		all = append(all, anns...)
	}
	return all, nil
}

// VerifiedThreshold says which annotations Verified keeps.
const VerifiedThreshold = "the 95% Student-t interval of the difference (suggested − taken) over the rollouts lies above 0"

// Verified returns, per advisor, the annotations the simulator confirms:
// those whose verdict Helps (VerifiedThreshold). anns are the annotations
// r judged, in its order (as Run returns them).
func (r *Result) Verified(anns []advisor.Annotation) (map[string][]advisor.Annotation, error) {
	if len(anns) != len(r.Verdicts) {
		return nil, fmt.Errorf("judge: %d annotations for %d verdicts", len(anns), len(r.Verdicts))
	}
	out := map[string][]advisor.Annotation{}
	for i, v := range r.Verdicts {
		a := anns[i]
		if a.Source != v.Advisor || a.Episode != v.Episode || a.Step != v.Step {
			return nil, fmt.Errorf("judge: annotation %d (%s, %s step %d) is not the one verdict %d judged (%s, %s step %d)",
				i+1, a.Source, a.Episode, a.Step, i+1, v.Advisor, v.Episode, v.Step)
		}
		if _, ok := out[a.Source]; !ok {
			out[a.Source] = nil
		}
		if v.Helps {
			out[a.Source] = append(out[a.Source], a)
		}
	}
	return out, nil
}

// The files a judgement writes into its directory (Result.Write), beside
// each advisor's VerifiedFile.
const (
	JSONFile     = "judge.json" // the Result; written last
	MarkdownFile = "judge.md"
	PNGFile      = "judge.png" // the figure (Result.Plot)
	SVGFile      = "judge.svg"
)

// Write writes the judgement into dir: the figure (a failure to draw it is
// returned as plotErr and writes nothing else less), each advisor's
// verified annotations (VerifiedFile), judge.md, and judge.json last, so
// that judge.json marks a complete judgement. It returns the verified
// annotations by advisor.
func (r *Result) Write(dir string, judged []advisor.Annotation) (verified map[string][]advisor.Annotation, plotErr, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	if plotErr = r.Plot(filepath.Join(dir, PNGFile), filepath.Join(dir, SVGFile)); plotErr == nil {
		r.Figure = SVGFile
	}
	var js, md bytes.Buffer
	if err := errors.Join(r.WriteJSON(&js), r.WriteMarkdown(&md)); err != nil {
		return nil, plotErr, err
	}
	if verified, err = r.Verified(judged); err != nil {
		return nil, plotErr, err
	}
	for name, anns := range verified {
		var b bytes.Buffer
		if err := traj.WriteJSONL(&b, anns); err != nil {
			return nil, plotErr, err
		}
		if err := atomicfile.Write(filepath.Join(dir, VerifiedFile(name)), b.Bytes()); err != nil {
			return nil, plotErr, err
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, MarkdownFile), md.Bytes()); err != nil {
		return nil, plotErr, err
	}
	return verified, plotErr, atomicfile.Write(filepath.Join(dir, JSONFile), js.Bytes())
}

// VerifiedFile is the name of the file an advisor's verified annotations
// are written to beside judge.json.
func VerifiedFile(advisorName string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, advisorName)
	return "verified-" + clean + ".jsonl"
}

// Plot draws the distribution of the annotations' mean differences per
// advisor, with each advisor's mean and bootstrap interval, as PNG and
// SVG.
func (r *Result) Plot(pngPath, svgPath string) error {
	strips := make([]report.Strip, len(r.Advisors))
	for i, s := range r.Advisors {
		st := report.Strip{Name: s.Advisor, Mean: s.MeanDiff, Lo: math.NaN(), Hi: math.NaN(),
			What: "one annotation (mean Δ)", Estimate: "mean"}
		if s.CI != nil {
			st.Lo, st.Hi = s.CI.Lo, s.CI.Hi
		}
		for _, v := range r.Verdicts {
			if v.Advisor == s.Advisor {
				st.Values = append(st.Values, v.Diff)
			}
		}
		strips[i] = st
	}
	return report.PlotStrips(strips, fmt.Sprintf("%s: is the advice good? (%d rollouts, %d steps, held %d)", r.Env, r.Rollouts, r.Horizon, r.Follow),
		"Δ return, suggested − taken action", pngPath, svgPath)
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteSummary writes the per-advisor table (Markdown) to w: what the
// command prints and judge.md opens with.
func (r *Result) WriteSummary(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "| advisor | annotations | mean Δ return [95% CI] | helps | hurts | reward sign agrees | fall rate: suggested / taken |")
	fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|")
	for _, s := range r.Advisors {
		ci := ""
		if s.CI != nil {
			ci = " " + interval(*s.CI)
		}
		fmt.Fprintf(bw, "| %s | %d | %s%s | %s | %s | %s | %s / %s |\n", cell(s.Advisor), s.Annotations, signed(s.MeanDiff), ci,
			shareCell(s.Helps), shareCell(s.Hurts), shareCell(s.Agreement), pct(s.SuggestedFallRate), pct(s.TakenFallRate))
	}
	return bw.Flush()
}

// WriteMarkdown writes judge.md: the settings, the per-advisor summary,
// how to read it and one row per annotation.
func (r *Result) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## Is the advice good? %s, judged in the simulator\n\n", r.Env)
	if err := r.WriteSummary(bw); err != nil {
		return err
	}
	fmt.Fprintln(bw)
	if r.Figure != "" {
		fmt.Fprintf(bw, "![The mean difference of each annotation, per advisor](%s)\n\n", r.Figure)
	}
	notes := []string{
		fmt.Sprintf("Each annotation's simulator snapshot is restored and two arms run from it, %d rollouts each, to %d steps or the episode's end: the suggested action (held %d step%s), then the agent's policy; the action the agent took, then the agent's policy. Δ return = return(suggested) − return(taken), undiscounted.", r.Rollouts, r.Horizon, r.Follow, plural(r.Follow)),
		fmt.Sprintf("Common random numbers: rollout j of both arms draws the same policy noise at each step (seed %d) and the environment's noise is the snapshot's own, so identical actions give identical returns.", r.Seed),
		"Mean Δ return: the mean over annotations of each annotation's mean difference, with a 95% percentile-bootstrap interval over annotations. Helps / hurts: annotations whose 95% Student-t interval over rollouts lies above / below 0, with 95% Wilson intervals.",
		"Reward sign agrees: the advisor's implicit reward r of the taken action predicts the sign of Δ (r < 0 predicts Δ > 0, r > 0 predicts Δ < 0); annotations with r = 0 or Δ = 0 are left out. Fall rate: the share of rollouts that terminated, averaged over annotations.",
	}
	if r.Checkpoint != "" {
		notes = append(notes, "Agent: "+r.Checkpoint+"; annotations: "+strings.Join(r.Inputs, ", ")+".")
	}
	if r.WallSeconds > 0 {
		notes = append(notes, fmt.Sprintf("Wall time %.1f s for %d env steps (%.0f steps/s, loading included).", r.WallSeconds, r.EnvSteps, float64(r.EnvSteps)/r.WallSeconds))
	}
	for _, n := range notes {
		fmt.Fprintf(bw, "- %s\n", n)
	}
	fmt.Fprintf(bw, "\n### Per annotation\n\n")
	fmt.Fprintln(bw, "| # | advisor | episode | step | steps | r (taken) | Δ return [95% CI] | return: suggested / taken | falls: suggested / taken | verdict | agrees |")
	fmt.Fprintln(bw, "|---:|---|---|---:|---:|---:|---:|---:|---:|---|---|")
	for _, v := range r.Verdicts {
		ci := ""
		if v.CI != nil {
			ci = " " + interval(*v.CI)
		}
		verdict := "no difference shown"
		switch {
		case v.Helps:
			verdict = "helps"
		case v.Hurts:
			verdict = "hurts"
		}
		agrees := "—"
		if v.Agrees != nil {
			agrees = map[bool]string{true: "yes", false: "no"}[*v.Agrees]
		}
		fmt.Fprintf(bw, "| %d | %s | %s | %d | %d | %s | %s%s | %s / %s | %s / %s | %s | %s |\n", v.Index+1, cell(v.Advisor), cell(v.Episode), v.Step, v.Steps,
			signed(v.Reward), signed(v.Diff), ci, num(v.Suggested.MeanReturn), num(v.Taken.MeanReturn),
			pct(v.Suggested.FallRate), pct(v.Taken.FallRate), verdict, agrees)
	}
	return bw.Flush()
}

func shareCell(s Share) string {
	if s.Of == 0 {
		return "—"
	}
	return fmt.Sprintf("%d/%d (%s) [%s, %s]", s.Count, s.Of, pct(s.Share), pct(s.CI.Lo), pct(s.CI.Hi))
}

func interval(iv Interval) string { return "[" + signed(iv.Lo) + ", " + signed(iv.Hi) + "]" }

func num(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

func signed(x float64) string {
	if x >= 0 {
		return "+" + num(x)
	}
	return num(x)
}

func pct(x float64) string { return strconv.FormatFloat(100*x, 'f', 0, 64) + "%" }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func cell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}
