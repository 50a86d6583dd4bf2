// Command contrast tests the paper's ordering claim on a published table:
// is ULTRA-RA above each single signal? For each task it reads the
// per-seed values of docs/results/TASK/results.csv (written by
// bench/results.sh) and compares ultra-a and ultra-r with ultra-ra as the
// baseline, with the statistics of ultra's experiment tables (engine/report:
// Welch's t and Mann–Whitney U, Holm-adjusted across the two rows; nothing
// compared below 5 seeds). A negative Δ means ultra-ra is above the row.
//
//	go run ./bench/contrast [-dir docs/results] TASK...
//
// It prints one Markdown table per task and only reads files.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ultra-rl/ultra/engine/report"
)

// baseline is the variant the paper claims is above the others; compared
// are the single signals it combines.
const baseline = "ultra-ra"

var compared = []string{"ultra-a", "ultra-r"}

func main() {
	if err := contrast(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "contrast:", err)
		os.Exit(1)
	}
}

func contrast(args []string) error {
	fs := flag.NewFlagSet("contrast", flag.ContinueOnError)
	dir := fs.String("dir", "docs/results", "the directory holding one TASK/results.csv per task")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("name one or more tasks, e.g. go run ./bench/contrast pong hopper")
	}
	for _, task := range fs.Args() {
		runs, err := loadTable(filepath.Join(*dir, task, "results.csv"))
		if err != nil {
			return err
		}
		rows, err := report.Summarize(runs, baseline, 1)
		if err != nil {
			return fmt.Errorf("%s: %v", task, err)
		}
		title := fmt.Sprintf("%s: ultra-a and ultra-r against ultra-ra (negative Δ: ultra-ra above)", task)
		if err := report.WriteMarkdown(os.Stdout, title, rows, nil); err != nil {
			return err
		}
		fmt.Println()
	}
	return nil
}

// loadTable reads the per-seed values of the baseline and the compared
// variants from a results.csv written by bench/results.sh.
func loadTable(path string) ([]report.Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%v (run bash bench/results.sh TASK first)", err)
	}
	defer f.Close()
	_, scores, err := report.ReadPerSeed(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var runs []report.Run
	for _, v := range append([]string{baseline}, compared...) {
		vals, ok := scores[v]
		if !ok {
			return nil, fmt.Errorf("%s: no row for %s", path, v)
		}
		for s, x := range vals {
			runs = append(runs, report.Run{Variant: v, Seed: uint64(s + 1), Eval: []float64{x}})
		}
	}
	return runs, nil
}
