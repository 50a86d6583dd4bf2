package report

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteAggregateCSV writes the aggregate as CSV: one line per variant with
// its estimates and intervals at full precision, then the IQM on each task
// (columns iqm_TASK).
func WriteAggregateCSV(w io.Writer, a *Aggregate) error {
	cw := csv.NewWriter(w)
	head := []string{"variant", "runs", "iqm", "iqm_ci_low", "iqm_ci_high", "mean", "mean_ci_low", "mean_ci_high",
		"p_improve", "p_improve_ci_low", "p_improve_ci_high"}
	for _, t := range a.Tasks {
		head = append(head, "iqm_"+t)
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range a.Rows {
		rec := []string{r.Variant, strconv.Itoa(r.Runs)}
		for _, x := range []float64{r.IQM, r.IQMLow, r.IQMHigh, r.Mean, r.MeanLow, r.MeanHigh, r.PImprove, r.PImproveLow, r.PImproveHigh} {
			rec = append(rec, csvNum(x))
		}
		for _, x := range r.PerTask {
			rec = append(rec, csvNum(x))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// aggregateTables are the aggregate's two tables: the variants (summary
// columns and the IQM per task) and the normalisation of each task.
func aggregateTables(a *Aggregate) []htmlTable {
	v := htmlTable{Headers: append(append([]string(nil), aggregateHeaders...), a.Tasks...)}
	for _, r := range a.Rows {
		v.Rows = append(v.Rows, htmlRow{Cells: aggregateCells(r), Bold: -1})
	}
	t := htmlTable{Headers: []string{"task", "random policy (0)", a.Baseline + " mean (1)"}}
	for i, name := range a.Tasks {
		t.Rows = append(t.Rows, htmlRow{Cells: []string{name, num(a.Random[i]), num(a.Ref[i])}, Bold: -1})
	}
	return []htmlTable{v, t}
}

// WriteAggregateMarkdown writes a level-2 heading, the variants' table (the
// IQM, mean and probability of improvement with their intervals, and the
// IQM on each task), the normalisation of each task, and notes.
func WriteAggregateMarkdown(w io.Writer, title string, a *Aggregate, notes []string) error {
	bw := bufio.NewWriter(w)
	if title != "" {
		fmt.Fprintf(bw, "## %s\n\n", oneLine(title))
	}
	for i, t := range aggregateTables(a) {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "| %s |\n", strings.Join(t.Headers, " | "))
		fmt.Fprintln(bw, "|---|"+strings.Repeat("---:|", len(t.Headers)-1))
		for _, r := range t.Rows {
			l := make([]string, len(r.Cells))
			for k, c := range r.Cells {
				l[k] = mdCell(c)
			}
			fmt.Fprintf(bw, "| %s |\n", strings.Join(l, " | "))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range notes {
			fmt.Fprintf(bw, "- %s\n", oneLine(n))
		}
	}
	return bw.Flush()
}

// WriteAggregateHTML writes the aggregate as a self-contained page like
// WriteHTML: the figures, the two tables of WriteAggregateMarkdown and the
// notes.
func WriteAggregateHTML(w io.Writer, title string, a *Aggregate, notes []string, figures []Figure) error {
	return writePage(w, title, figures, aggregateTables(a), []htmlList{{Items: notes}})
}

// ReadPerSeed reads a results CSV written by WriteCSV and returns its
// variants in order with their per-seed values.
func ReadPerSeed(r io.Reader) (variants []string, scores map[string][]float64, err error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("reading results CSV: %w", err)
	}
	if len(recs) < 2 {
		return nil, nil, errors.New("results CSV has no rows")
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	vi, ok1 := col["variant"]
	pi, ok2 := col["per_seed"]
	if !ok1 || !ok2 {
		return nil, nil, errors.New("results CSV lacks the variant or per_seed column: write it with this version of ultra")
	}
	scores = map[string][]float64{}
	for line, rec := range recs[1:] {
		v := rec[vi]
		if _, dup := scores[v]; dup {
			return nil, nil, fmt.Errorf("results CSV line %d: variant %q appears twice", line+2, v)
		}
		var xs []float64
		for _, f := range strings.Split(rec[pi], ";") {
			if f == "" {
				continue
			}
			x, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("results CSV line %d: per_seed value %q: %w", line+2, f, err)
			}
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, nil, fmt.Errorf("results CSV line %d: variant %q has the per_seed value %v: every value must be a finite return (rerun its evaluation)", line+2, v, x)
			}
			xs = append(xs, x)
		}
		variants = append(variants, v)
		scores[v] = xs
	}
	return variants, scores, nil
}
