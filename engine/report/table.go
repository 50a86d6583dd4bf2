package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// csvHeader names the columns WriteCSV writes.
var csvHeader = []string{"variant", "seeds", "per_seed", "mean", "std", "iqm", "iqm_ci_low", "iqm_ci_high",
	"delta", "delta_pct", "welch_p", "welch_p_holm", "mannwhitney_p", "mannwhitney_p_holm", "p_improve",
	"significant", "too_few_seeds", "lookups", "hits", "hit_rate", "overrides", "bonuses", "resets"}

// WriteCSV writes rows as CSV with a header line. Numbers are written at
// full precision; NaN (and a dose of a variant without a table) is an
// empty field; per_seed is the per-seed values joined by ";".
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, r := range rows {
		per := make([]string, len(r.PerSeed))
		for i, x := range r.PerSeed {
			per[i] = csvNum(x)
		}
		rec := []string{r.Variant, strconv.Itoa(r.Seeds), strings.Join(per, ";"),
			csvNum(r.Mean), csvNum(r.Std), csvNum(r.IQM), csvNum(r.IQMLow), csvNum(r.IQMHigh),
			csvNum(r.Delta), csvNum(r.DeltaPct), csvNum(r.WelchP), csvNum(r.WelchHolm),
			csvNum(r.MannWhitneyP), csvNum(r.MannWhitneyHolm), csvNum(r.PImprove),
			strconv.FormatBool(r.Significant), strconv.FormatBool(r.TooFew)}
		if d := r.Dose; d != nil {
			rec = append(rec, csvNum(d.Lookups), csvNum(d.Hits), csvNum(d.HitRate()), csvNum(d.Overrides), csvNum(d.Bonuses), csvNum(d.Resets))
		} else {
			rec = append(rec, "", "", "", "", "", "")
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvNum(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// TooFewText is what a table says instead of a test below MinSeedsToCompare.
const TooFewText = "too few seeds to compare"

// cells are one row's texts, shared by the Markdown and HTML tables.
type cells struct {
	Variant, Seeds, MeanStd, IQM, Delta, Welch, MannWhitney, PImprove string
	Hits, Overrides, Bonuses, Resets                                  string
	Significant                                                       bool
}

var headers = []string{"variant", "seeds", "mean ± std", "IQM [95% CI]", "Δ vs baseline", "Welch p (Holm)",
	"Mann–Whitney p (Holm)", "P(better)", "table hits / lookups", "overrides", "bonuses", "resets"}

func (c cells) list() []string {
	return []string{c.Variant, c.Seeds, c.MeanStd, c.IQM, c.Delta, c.Welch, c.MannWhitney, c.PImprove,
		c.Hits, c.Overrides, c.Bonuses, c.Resets}
}

func rowCells(r Row) cells {
	c := cells{Variant: r.label(), Seeds: strconv.Itoa(r.Seeds), MeanStd: num(r.Mean), IQM: num(r.IQM),
		Delta: "—", Significant: r.Significant, Hits: "—", Overrides: "—", Bonuses: "—", Resets: "—"}
	if !math.IsNaN(r.Std) {
		c.MeanStd += " ± " + num(r.Std)
	}
	if !math.IsNaN(r.IQMLow) {
		c.IQM += " " + interval(r.IQMLow, r.IQMHigh)
	}
	switch {
	case r.Baseline:
		c.Delta = "baseline"
	case math.IsNaN(r.Delta):
	default:
		c.Delta = signed(r.Delta)
		if !math.IsNaN(r.DeltaPct) {
			c.Delta += " (" + signedPct(r.DeltaPct) + ")"
		}
	}
	switch {
	case r.Baseline:
	case r.TooFew && !math.IsNaN(r.Delta):
		c.Welch = TooFewText
	case !math.IsNaN(r.WelchP):
		c.Welch = pval(r.WelchP) + " (" + pval(r.WelchHolm) + ")"
		c.MannWhitney = pval(r.MannWhitneyP) + " (" + pval(r.MannWhitneyHolm) + ")"
		c.PImprove = strconv.FormatFloat(r.PImprove, 'f', 2, 64)
	}
	if d := r.Dose; d != nil {
		c.Hits = fmt.Sprintf("%.0f / %.0f", d.Hits, d.Lookups)
		if hr := d.HitRate(); !math.IsNaN(hr) {
			c.Hits += fmt.Sprintf(" (%.2f%%)", 100*hr)
		}
		c.Overrides, c.Bonuses, c.Resets = fmt.Sprintf("%.0f", d.Overrides), fmt.Sprintf("%.0f", d.Bonuses), fmt.Sprintf("%.0f", d.Resets)
	}
	return c
}

// WriteMarkdown writes a level-2 heading, a GitHub table of rows (mean ±
// std, IQM with its interval, the difference from the baseline with both
// tests' p-values raw and Holm-adjusted, the probability of improvement,
// and the table's dose per seed), the per-seed values, and notes as a
// bullet list. Significant differences (both adjusted p below Alpha) are
// bold.
func WriteMarkdown(w io.Writer, title string, rows []Row, notes []string) error {
	bw := bufio.NewWriter(w)
	writeMarkdownTable(bw, "## ", title, rows)
	fmt.Fprintln(bw, "Per-seed mean evaluation return, in seed order:")
	fmt.Fprintln(bw)
	for _, r := range rows {
		fmt.Fprintf(bw, "- %s: %s\n", mdCell(r.label()), perSeed(r.PerSeed))
	}
	if len(notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range notes {
			fmt.Fprintf(bw, "- %s\n", oneLine(n))
		}
	}
	return bw.Flush()
}

// WriteMarkdownTable writes a level-3 heading and the table of rows only
// (a second comparison under a table WriteMarkdown wrote, e.g. against
// another baseline), then notes as a bullet list.
func WriteMarkdownTable(w io.Writer, title string, rows []Row, notes []string) error {
	bw := bufio.NewWriter(w)
	writeMarkdownTable(bw, "### ", title, rows)
	for _, n := range notes {
		fmt.Fprintf(bw, "- %s\n", oneLine(n))
	}
	return bw.Flush()
}

// writeMarkdownTable writes the heading (at level mark) and the table.
func writeMarkdownTable(bw *bufio.Writer, mark, title string, rows []Row) {
	if title != "" {
		fmt.Fprintf(bw, "%s%s\n\n", mark, oneLine(title))
	}
	fmt.Fprintf(bw, "| %s |\n", strings.Join(headers, " | "))
	fmt.Fprintln(bw, "|---|"+strings.Repeat("---:|", len(headers)-1))
	for _, r := range rows {
		c := rowCells(r)
		if c.Significant {
			c.Delta = "**" + c.Delta + "**"
		}
		l := c.list()
		for i := range l {
			l[i] = mdCell(l[i])
		}
		fmt.Fprintf(bw, "| %s |\n", strings.Join(l, " | "))
	}
	fmt.Fprintln(bw)
}

func perSeed(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strings.Join(parts, ", ")
}

func interval(lo, hi float64) string {
	return "[" + num(lo) + ", " + num(hi) + "]"
}

// num formats a statistic for people: two decimals, "n/a" for NaN.
func num(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// pval formats a p-value: three decimals, "<0.001" below.
func pval(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

func signed(x float64) string {
	if x >= 0 {
		return "+" + num(x)
	}
	return num(x)
}

func signedPct(x float64) string {
	s := strconv.FormatFloat(x, 'f', 1, 64) + "%"
	if x >= 0 {
		return "+" + s
	}
	return s
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// label is the variant's name as the tables show it: with its Mark.
func (r Row) label() string {
	if r.Mark == "" {
		return r.Variant
	}
	return r.Variant + " " + r.Mark
}
