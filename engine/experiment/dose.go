package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// A dose–response experiment refines the table's variants at several
// doses — target hit rates the radius is calibrated to — from one
// checkpoint and one annotation set, and compares each with ppo and the
// placebo. Layout, under the experiment directory:
//
//	pretrain/, collect/, annotate/   the shared stages, once
//	dose/bands/                      ppo and placebo (an experiment directory)
//	dose/target-0.5pct/ …            the dose variants at one dose each (experiment directories)
//	dose.md, dose.csv, dose.png, dose.svg, dose.json
//
// Each dose directory is an ordinary experiment (its own results and
// resumable units) whose checkpoint is the shared one and whose collected
// episodes and annotations are copies of the shared ones.

// DoseParam is the knob a dose–response varies.
const DoseParam = "target-hit-rate"

// DoseBands are the reference variants run once, not per dose.
var DoseBands = []ultra.Variant{ultra.PPO, ultra.Placebo}

// ParseShare reads a share written as a percentage ("2%") or a fraction
// below 1 ("0.02"). A bare 1 or more is refused as ambiguous: "1" could mean
// 1% as well as 100% (write 1% or 100%).
func ParseShare(s string) (float64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	pct := strings.HasSuffix(t, "%")
	if pct {
		t, scale = strings.TrimSuffix(t, "%"), 0.01
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a share: write a percentage (2%%) or a fraction (0.02)", s)
	}
	if !pct && v >= 1 {
		return 0, fmt.Errorf("share %q is ambiguous: write a percentage (%s%% or 100%%) or a fraction below 1", s, t)
	}
	v *= scale
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("share %q is outside 0..100%%", s)
	}
	return v, nil
}

// ParseDose reads "target-hit-rate=0.1%,0.5%,2%,5%": the target hit rates
// of a dose–response experiment, each in (0, 100%], distinct, in the order
// given.
func ParseDose(s string) ([]float64, error) {
	name, list, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) != DoseParam {
		return nil, fmt.Errorf("dose %q: write %s=LIST, e.g. %s=0.1%%,0.5%%,2%%,5%% (the only knob a dose varies is the target hit rate)", s, DoseParam, DoseParam)
	}
	var out []float64
	for _, f := range strings.Split(list, ",") {
		v, err := ParseShare(f)
		if err != nil {
			return nil, fmt.Errorf("dose: %w", err)
		}
		if v == 0 {
			return nil, fmt.Errorf("dose: a target hit rate of 0 is no table at all: that is ppo, which runs as the reference band")
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("dose: %s is listed twice", strings.TrimSpace(f))
		}
		for _, o := range out {
			if doseLabel(o) == doseLabel(v) {
				return nil, fmt.Errorf("dose: %s and %s are the same dose to 4 significant digits (%s), which names its directory: give doses that differ there", DosePercent(o), strings.TrimSpace(f), DosePercent(v))
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// doseLabel names a dose's directory, e.g. "target-0.5pct".
func doseLabel(d float64) string { return "target-" + percentDigits(d) + "pct" }

// DosePercent writes a share as a percentage, e.g. "0.5%".
func DosePercent(d float64) string { return percentDigits(d) + "%" }

// percentDigits is 100·d in at most 4 significant digits.
func percentDigits(d float64) string { return strconv.FormatFloat(100*d, 'g', 4, 64) }

// tablePercent writes a measured share in the tables' fixed form
// ("0.125%"), or "—" for NaN (not measured).
func tablePercent(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return strconv.FormatFloat(100*x, 'f', 3, 64) + "%"
}

// DoseConfig is a dose–response experiment: Base's settings and shared
// stages, its variants (those that match states, not ppo or the placebo)
// refined at every dose.
type DoseConfig struct {
	Base  Config
	Doses []float64
}

// doseFile records a dose–response directory's doses and variants.
type doseFile struct {
	Doses    []float64       `json:"doses"`
	Variants []ultra.Variant `json:"variants"`
	Bands    []ultra.Variant `json:"bands"`
	// BandTarget is the target hit rate the placebo runs at.
	BandTarget float64 `json:"band_target_hit_rate"`
}

// Validate checks a dose–response experiment before anything runs: the
// base experiment, the doses, and that every variant uses the table's
// matches (the dose changes nothing else).
func (dc *DoseConfig) Validate() error {
	if len(dc.Doses) == 0 {
		return errors.New("dose: no doses: give " + DoseParam + "=LIST")
	}
	for _, d := range dc.Doses {
		if !(d > 0 && d <= 1) {
			return fmt.Errorf("dose: target hit rate %v, want a share in (0, 1]", d)
		}
	}
	if dc.Base.Settings.Radius > 0 {
		return fmt.Errorf("dose: radius %v is fixed, and a dose calibrates it: leave the radius unset", dc.Base.Settings.Radius)
	}
	if dc.Base.Settings.TargetHitRate == 0 {
		return errors.New("dose: calibration is off (--radius-quantile or --target-hit-rate 0 given), and a dose calibrates the radius to each target: leave them out")
	}
	var bad []string
	for _, v := range dc.doseVariants() {
		if b := v.Behaviour(); !(b.Overrides || b.Rewards) || b.Alpha > 0 {
			bad = append(bad, string(v))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("dose: variants %s do not act on the table's matches, so a dose changes nothing in them: run them in an ordinary experiment", strings.Join(bad, ", "))
	}
	if len(dc.doseVariants()) == 0 {
		return errors.New("dose: no variant to dose: name variants that use the table (ultra-a, ultra-r, ultra-ra, ultra-ra+rice, …)")
	}
	dc.Base.Settings.TargetHitRate = slices.Max(dc.Doses) // every group runs calibrated
	_, err := dc.Base.Validate()
	return err
}

// doseVariants are the base's variants without the bands.
func (dc *DoseConfig) doseVariants() []ultra.Variant {
	var out []ultra.Variant
	for _, v := range dc.Base.Variants {
		if !slices.Contains(DoseBands, v) {
			out = append(out, v)
		}
	}
	return out
}

// DoseResult is what RunDose wrote.
type DoseResult struct {
	Markdown string
	Files    []string
}

// RunDose runs (or resumes) a dose–response experiment: the shared stages
// in Base.Out, the bands (ppo and the placebo, the placebo at the largest
// dose) and every dose variant at every dose, each group an experiment
// directory under dose/, then the dose report. Cancelling ctx stops it
// with checkpoints; rerunning resumes.
func RunDose(ctx context.Context, dc DoseConfig) (*DoseResult, error) {
	if err := dc.Validate(); err != nil {
		return nil, err
	}
	c := dc.Base
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	spec, err := c.Registry.Lookup(c.Env)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	df := doseFile{Doses: dc.Doses, Variants: dc.doseVariants(), Bands: DoseBands, BandTarget: slices.Max(dc.Doses)}
	if err := dc.record(df); err != nil {
		return nil, err
	}
	start := time.Now()
	lock, err := run.Acquire(c.Out)
	if err != nil {
		return nil, err
	}
	c.Settings.TargetHitRate = df.BandTarget
	if err := c.record(); err != nil {
		lock.Release()
		return nil, err
	}
	sh, err := c.sharedStages(ctx, spec, 0)
	lock.Release()
	if err != nil {
		return nil, err
	}
	ck, err := filepath.Abs(sh.ckPath)
	if err != nil {
		return nil, err
	}
	groups := []struct {
		dir      string
		variants []ultra.Variant
		target   float64
	}{{"bands", DoseBands, df.BandTarget}}
	for _, d := range dc.Doses {
		groups = append(groups, struct {
			dir      string
			variants []ultra.Variant
			target   float64
		}{doseLabel(d), df.Variants, d})
	}
	for _, g := range groups {
		child := c
		child.Out = filepath.Join(c.Out, "dose", g.dir)
		child.Checkpoint, child.Variants = ck, g.variants
		child.Settings.TargetHitRate = g.target
		if err := seedShared(c.Out, child.Out, sh); err != nil {
			return nil, err
		}
		c.Logger.Info("dose", "group", g.dir, "variants", g.variants, "target_hit_rate", g.target)
		if _, err := Run(ctx, child); err != nil {
			return nil, fmt.Errorf("dose %s: %w", g.dir, err)
		}
	}
	return doseReport(c, df, time.Since(start))
}

// DoseReport writes the report of a dose–response directory from its
// finished runs without running anything: dc must name the doses and
// variants the directory was started with.
func DoseReport(dc DoseConfig) (*DoseResult, error) {
	if err := dc.Validate(); err != nil {
		return nil, err
	}
	df, readErr, err := loadDoseFile(dc.Base.Out)
	if readErr != nil {
		return nil, fmt.Errorf("dose: %s is not a dose–response directory (%v): run ultra experiment --dose first", dc.Base.Out, readErr)
	}
	if err != nil {
		return nil, fmt.Errorf("dose: %s/%s is unreadable: %v", dc.Base.Out, doseFileName, err)
	}
	if !df.sameRun(doseFile{Doses: dc.Doses, Variants: dc.doseVariants()}) {
		return nil, fmt.Errorf("dose: %s was started with doses %v and variants %v (now %v and %v)", dc.Base.Out, df.Doses, df.Variants, dc.Doses, dc.doseVariants())
	}
	return doseReport(dc.Base, df, 0)
}

// record writes dose.json, or refuses doses and variants other than those
// a directory was started with.
func (dc *DoseConfig) record(df doseFile) error {
	path := filepath.Join(dc.Base.Out, doseFileName)
	if was, readErr, err := loadDoseFile(dc.Base.Out); readErr == nil {
		if err != nil {
			return fmt.Errorf("dose: %s is unreadable (%v): use another directory", path, err)
		}
		if !was.sameRun(df) {
			return fmt.Errorf("dose: %s was started with doses %v and variants %v (now %v and %v): rerun with the same, or use another directory",
				dc.Base.Out, was.Doses, was.Variants, df.Doses, df.Variants)
		}
	}
	b, err := json.MarshalIndent(df, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b)
}

// doseFileName is the file that records a dose directory's doses and
// variants.
const doseFileName = "dose.json"

// loadDoseFile reads dir's dose.json: readErr when it cannot be read (no
// such file), err when it cannot be parsed.
func loadDoseFile(dir string) (df doseFile, readErr, err error) {
	b, readErr := os.ReadFile(filepath.Join(dir, doseFileName))
	if readErr != nil {
		return df, readErr, nil
	}
	return df, nil, json.Unmarshal(b, &df)
}

// sameRun reports whether two records name the same doses and variants.
func (df doseFile) sameRun(o doseFile) bool {
	return fmt.Sprint(df.Doses, df.Variants) == fmt.Sprint(o.Doses, o.Variants)
}

// seedShared copies the shared collected episodes and annotations into a
// dose directory (once), so that its own stages find them done.
func seedShared(parent, child string, sh shared) error {
	files := []string{sh.trajPath}
	for _, p := range sh.annPaths {
		files = append(files, p)
	}
	for _, from := range files {
		rel, err := filepath.Rel(parent, from)
		if err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("dose: %s lies outside %s", from, parent)
		}
		to := filepath.Join(child, rel)
		if _, err := os.Stat(to); err == nil {
			continue
		}
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(to, b); err != nil {
			return err
		}
	}
	return nil
}

// doseReport writes dose.md, dose.csv and the dose–response figure from a
// dose–response directory's finished runs (c its base settings, df its
// dose.json; wall 0 when not measured).
func doseReport(c Config, df doseFile, wall time.Duration) (*DoseResult, error) {
	// A group is reported only when every variant has every seed: a dose
	// cut short is left out (and said so), never compared on fewer seeds.
	load := func(dir string, vs []ultra.Variant, name func(ultra.Variant) string) ([]report.Run, bool) {
		var out []report.Run
		for _, v := range vs {
			for s := 1; s <= c.Seeds; s++ {
				rd := filepath.Join(dir, "refine", Unit{Variant: v, Seed: uint64(s)}.Name())
				ret, err := readEval(filepath.Join(rd, "eval.json"), c.EvalEpisodes)
				if err != nil {
					return nil, false
				}
				r := report.Run{Variant: name(v), Seed: uint64(s), Eval: ret}
				if v != ultra.PPO {
					r.Dose = LoadDose(rd)
				}
				out = append(out, r)
			}
		}
		return out, true
	}
	runs, ok := load(filepath.Join(c.Out, "dose", "bands"), df.Bands, func(v ultra.Variant) string { return string(v) })
	if !ok {
		return nil, fmt.Errorf("dose: the bands (%v) have not finished all %d seeds in %s: run them first", df.Bands, c.Seeds, filepath.Join(c.Out, "dose", "bands"))
	}
	var missing []string
	doses := slices.Clone(df.Doses)
	slices.Sort(doses)
	var done []float64
	for _, d := range doses {
		rs, ok := load(filepath.Join(c.Out, "dose", doseLabel(d)), df.Variants, func(v ultra.Variant) string {
			return doseName(v, d)
		})
		if !ok {
			missing = append(missing, DosePercent(d))
			continue
		}
		runs = append(runs, rs...)
		done = append(done, d)
	}
	if len(done) == 0 {
		return nil, fmt.Errorf("dose: no dose has finished all %d seeds of %v in %s", c.Seeds, df.Variants, c.Out)
	}
	df.Doses = done
	rows, err := report.Summarize(runs, string(ultra.PPO), 1)
	if err != nil {
		return nil, err
	}
	byName := map[string]report.Row{}
	for _, r := range rows {
		byName[r.Variant] = r
	}
	var points []report.DosePoint
	var bands []report.Row
	for _, v := range df.Bands {
		bands = append(bands, byName[string(v)])
	}
	for _, v := range df.Variants {
		for _, d := range df.Doses {
			r := byName[doseName(v, d)]
			hr := math.NaN()
			if r.Dose != nil {
				hr = r.Dose.HitRate()
			}
			points = append(points, report.DosePoint{Variant: string(v), Target: d, HitRate: hr, Row: r})
		}
	}
	trend := doseTrend(byName, df)
	var md strings.Builder
	title := fmt.Sprintf("ULTRA on %s: dose–response (target hit rates %s)", c.Env, dosesText(df.Doses))
	fmt.Fprintf(&md, "## %s\n\n", title)
	md.WriteString(doseTable(points, bands))
	md.WriteString("\n")
	md.WriteString(trend)
	md.WriteString("\n")
	notes := []string{
		fmt.Sprintf("Sub-optimal agent: %s; %d collected episodes annotated by the %s advisor, the same checkpoint and annotations at every dose.", c.describeStart(), c.CollectEpisodes, c.Advisor.Name),
		fmt.Sprintf("Advisor: %s.", advisorNote(c.Advisor)),
		fmt.Sprintf("Dose: the radius is calibrated so that the target share of a %d-step rollout of the checkpoint (stochastic policy, seed pretraining seed + %d, not the collected episodes) matches a critical state, in match space %s; \"calibrated\" is the share that matched on that rollout, \"refinement\" the share of the refinement's lookups that matched, \"last quarter\" that share over the last quarter of its iterations (means over seeds).",
			DefaultCalibrationSteps, calibrationSeedOffset, c.Settings.MatchSpace),
		fmt.Sprintf("Bands: ppo, and the placebo (ultra-r with alpha %.0e) at the largest dose (%s), run once; every variant × dose is compared with ppo by Welch's t-test and the Mann–Whitney U test, p-values Holm-adjusted across all rows of the table below; bold = both adjusted p < %.2f.", ultra.PlaceboAlpha, DosePercent(df.BandTarget), report.Alpha),
		fmt.Sprintf("Each variant × dose × seed (1..%d) refines for %d env steps; each final policy is evaluated on %d episodes (mean action, eval seed %d). alpha %.3g, reward on %s, override probability %s.",
			c.Seeds, c.RefineSteps, c.EvalEpisodes, c.EvalSeed, c.Settings.Alpha, c.Settings.RewardOn, overrideNote(c.Settings)),
		wallNote(wall) + ".",
	}
	if c.Note != "" {
		notes = append([]string{"How the settings were chosen: " + c.Note}, notes...)
	}
	if len(missing) > 0 {
		notes = append(notes, fmt.Sprintf("Doses %s were planned but have not finished all %d seeds of every variant: they are left out, not compared on fewer seeds.", strings.Join(missing, ", "), c.Seeds))
		fmt.Fprintf(&md, "Not finished, left out: doses %s.\n\n", strings.Join(missing, ", "))
	}
	var full strings.Builder
	if err := report.WriteMarkdown(&full, "Every row against ppo", rows, notes); err != nil {
		return nil, err
	}
	md.WriteString(full.String())
	var csvb strings.Builder
	if err := report.WriteCSV(&csvb, rows); err != nil {
		return nil, err
	}
	files := map[string]string{"dose.md": md.String(), "dose.csv": csvb.String()}
	res := &DoseResult{Markdown: md.String()}
	for name, content := range files {
		p := filepath.Join(c.Out, name)
		if err := atomicfile.Write(p, []byte(content)); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, p)
	}
	png, svg := filepath.Join(c.Out, "dose.png"), filepath.Join(c.Out, "dose.svg")
	if err := report.PlotDose(points, bands, c.Env+": final evaluation against the table's hit rate", png, svg); err != nil {
		return nil, err
	}
	res.Files = append(res.Files, png, svg)
	slices.Sort(res.Files)
	return res, nil
}

// doseName is a variant's name at one dose in the dose tables, e.g.
// "ultra-a @ 0.5%".
func doseName(v ultra.Variant, d float64) string { return fmt.Sprintf("%s @ %s", v, DosePercent(d)) }

func dosesText(ds []float64) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = DosePercent(d)
	}
	return strings.Join(s, ", ")
}

// doseTable is the Markdown summary: per variant and dose, the target, the
// calibrated and the refinement hit rates, what the matches did, and the
// final evaluation against ppo; the bands first.
func doseTable(points []report.DosePoint, bands []report.Row) string {
	var b strings.Builder
	b.WriteString("| variant | target | hit rate: calibrated | hit rate: refinement | hit rate: last quarter | overrides / run | bonuses / run | seeds | IQM [95% CI] | Δ vs ppo | Welch p (Holm) | Mann–Whitney p (Holm) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	pct := tablePercent
	row := func(name, target string, r report.Row) {
		cal, ref, late, ov, bo := "—", "—", "—", "—", "—"
		if d := r.Dose; d != nil {
			cal, ref, late = pct(d.CalibratedHitRate), pct(d.HitRate()), pct(d.LateHitRate)
			ov, bo = fmt.Sprintf("%.0f", d.Overrides), fmt.Sprintf("%.0f", d.Bonuses)
		}
		iqm := fmt.Sprintf("%.1f", r.IQM)
		if !math.IsNaN(r.IQMLow) {
			iqm += fmt.Sprintf(" [%.1f, %.1f]", r.IQMLow, r.IQMHigh)
		}
		delta, welch, mw := "—", "—", "—"
		switch {
		case r.Baseline:
			delta = "baseline"
		case r.TooFew:
			welch = report.TooFewText
		case !math.IsNaN(r.WelchP):
			delta = fmt.Sprintf("%+.1f", r.Delta)
			if !math.IsNaN(r.DeltaPct) {
				delta += fmt.Sprintf(" (%+.1f%%)", r.DeltaPct)
			}
			if r.Significant {
				delta = "**" + delta + "**"
			}
			welch = fmt.Sprintf("%.3g (%.3g)", r.WelchP, r.WelchHolm)
			mw = fmt.Sprintf("%.3g (%.3g)", r.MannWhitneyP, r.MannWhitneyHolm)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n", name, target, cal, ref, late, ov, bo, r.Seeds, iqm, delta, welch, mw)
	}
	for _, r := range bands {
		row(r.Variant, "—", r)
	}
	var resets []string
	for _, p := range points {
		row(p.Variant, DosePercent(p.Target), p.Row)
		if d := p.Row.Dose; d != nil && d.ResetVisits > 0 {
			resets = append(resets, fmt.Sprintf("| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f |", p.Variant, DosePercent(p.Target), d.Resets, d.ResetVisits,
				d.ResetVisitHits, d.ResetVisitOverrides, d.ResetVisitBonuses))
		}
	}
	if len(resets) > 0 {
		b.WriteString("\nWhat the table did on the first step of each restarted episode (per run, mean over seeds):\n\n")
		b.WriteString("| variant | target | restarts | visits | hits | overrides | bonuses |\n|---|---:|---:|---:|---:|---:|---:|\n")
		b.WriteString(strings.Join(resets, "\n") + "\n")
	}
	return b.String()
}

// doseTrend compares, for each dose variant, its largest dose with its
// smallest (Welch and Mann–Whitney, Holm-adjusted across the variants):
// the measured answer to whether the effect grows or shrinks with dose.
func doseTrend(byName map[string]report.Row, df doseFile) string {
	if len(df.Doses) < 2 {
		return "One dose: no trend to test.\n"
	}
	lo, hi := slices.Min(df.Doses), slices.Max(df.Doses)
	var b strings.Builder
	fmt.Fprintf(&b, "Largest dose (%s) against smallest (%s), per variant; p-values Holm-adjusted across the variants:\n\n", DosePercent(hi), DosePercent(lo))
	b.WriteString("| variant | mean at smallest | mean at largest | Δ (largest − smallest) | Welch p (Holm) | Mann–Whitney p (Holm) |\n|---|---:|---:|---:|---:|---:|\n")
	type cmp struct {
		v          ultra.Variant
		ml, mh     float64
		pw, pm     float64
		tooFew     bool
		nlow, nhig int
	}
	var cs []cmp
	var pws, pms []float64
	for _, v := range df.Variants {
		// Each row's PerSeed holds its runs' mean eval returns.
		xl, xh := byName[doseName(v, lo)].PerSeed, byName[doseName(v, hi)].PerSeed
		c := cmp{v: v, ml: meanOf(xl), mh: meanOf(xh), nlow: len(xl), nhig: len(xh)}
		c.tooFew = len(xl) < report.MinSeedsToCompare || len(xh) < report.MinSeedsToCompare
		if !c.tooFew {
			_, _, c.pw = report.WelchT(xh, xl)
			_, c.pm = report.MannWhitney(xh, xl)
			pws, pms = append(pws, c.pw), append(pms, c.pm)
		}
		cs = append(cs, c)
	}
	hw, hm := report.Holm(pws), report.Holm(pms)
	k := 0
	for _, c := range cs {
		w, m := report.TooFewText, "—"
		if !c.tooFew {
			w, m = fmt.Sprintf("%.3g (%.3g)", c.pw, hw[k]), fmt.Sprintf("%.3g (%.3g)", c.pm, hm[k])
			if hw[k] < report.Alpha && hm[k] < report.Alpha {
				w, m = "**"+w+"**", "**"+m+"**"
			}
			k++
		}
		fmt.Fprintf(&b, "| %s | %.1f (%d seeds) | %.1f (%d seeds) | %+.1f | %s | %s |\n", c.v, c.ml, c.nlow, c.mh, c.nhig, c.mh-c.ml, w, m)
	}
	return b.String()
}

func meanOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
