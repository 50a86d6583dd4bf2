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
var csvHeader = []string{"variant", "seeds", "mean", "std", "ci_low", "ci_high",
	"delta", "delta_pct", "delta_ci_low", "delta_ci_high", "significant"}

// WriteCSV writes rows as CSV with a header line. Numbers are written at
// full precision; NaN is written as an empty field.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.Variant, strconv.Itoa(r.Seeds),
			csvNum(r.Mean), csvNum(r.Std), csvNum(r.CILow), csvNum(r.CIHigh),
			csvNum(r.Delta), csvNum(r.DeltaPct), csvNum(r.DeltaCILow), csvNum(r.DeltaCIHigh),
			strconv.FormatBool(r.Significant)}
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

// WriteMarkdown writes a level-2 heading, a GitHub table with the columns
// variant | seeds | mean ± std | 95% CI | Δ vs baseline (95% CI), and
// notes as a bullet list under it. Significant differences are bold.
func WriteMarkdown(w io.Writer, title string, rows []Row, notes []string) error {
	bw := bufio.NewWriter(w)
	if title != "" {
		fmt.Fprintf(bw, "## %s\n\n", oneLine(title))
	}
	fmt.Fprintln(bw, "| variant | seeds | mean ± std | 95% CI | Δ vs baseline (95% CI) |")
	fmt.Fprintln(bw, "|---|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(bw, "| %s | %d | %s | %s | %s |\n",
			mdCell(r.Variant), r.Seeds, meanStd(r), interval(r.CILow, r.CIHigh), mdDelta(r))
	}
	if len(notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range notes {
			fmt.Fprintf(bw, "- %s\n", oneLine(n))
		}
	}
	return bw.Flush()
}

func mdDelta(r Row) string {
	s := deltaText(r)
	if r.Significant {
		return "**" + s + "**"
	}
	return s
}

// deltaText formats the Δ column: "+1.50 (+12.5%) [0.20, 2.80]", "—" when
// there is no baseline, "baseline" on the baseline's own row.
func deltaText(r Row) string {
	if math.IsNaN(r.Delta) {
		return "—"
	}
	if math.IsNaN(r.DeltaCILow) {
		return "baseline"
	}
	s := signed(r.Delta)
	if !math.IsNaN(r.DeltaPct) {
		s += " (" + signed(r.DeltaPct) + "%)"
	}
	if !math.IsNaN(r.DeltaCILow) {
		s += " " + interval(r.DeltaCILow, r.DeltaCIHigh)
	}
	return s
}

func meanStd(r Row) string {
	if math.IsNaN(r.Std) {
		return num(r.Mean)
	}
	return num(r.Mean) + " ± " + num(r.Std)
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

func signed(x float64) string {
	if x >= 0 {
		return "+" + num(x)
	}
	return num(x)
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
