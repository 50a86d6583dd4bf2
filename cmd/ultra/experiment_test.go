package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExperimentWritesEveryRunAndResumes runs a tiny experiment, checks
// the results cover every variant and seed, then reruns it: every stage
// must be skipped and the table must come out the same.
func TestExperimentWritesEveryRunAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("experiment test skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "exp")
	args := []string{"experiment", "--env", "hopper", "--out", dir, "--pretrain-steps", "2048", "--collect-episodes", "3",
		"--variants", "ppo,ultra-ra,rice", "--seeds", "2", "--refine-steps", "2048", "--eval-episodes", "2", "--jobs", "2",
		"--metrics-addr", ""}
	var out, log bytes.Buffer
	if err := runCommand(args, &out, &log); err != nil {
		t.Fatal(err, log.String())
	}
	f, err := os.Open(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows[1:] {
		got[r[0]] = r[1]
	}
	for _, v := range []string{"ppo", "ultra-ra", "rice"} {
		if got[v] != "2" {
			t.Errorf("results.csv: variant %s has %q seeds, want 2 (rows %v)", v, got[v], rows)
		}
		for _, s := range []string{"1", "2"} {
			if _, err := os.Stat(filepath.Join(dir, "refine", v+"-s"+s, "eval.json")); err != nil {
				t.Errorf("run %s-s%s: %v", v, s, err)
			}
		}
	}
	img, err := os.Open(filepath.Join(dir, "curves.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(img); err != nil {
		t.Errorf("curves.png: %v", err)
	}
	img.Close()
	for _, name := range []string{"results.md", "curves.svg", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	first := out.String()

	out.Reset()
	log.Reset()
	if err := runCommand(args, &out, &log); err != nil {
		t.Fatal(err, log.String())
	}
	if n := strings.Count(log.String(), "skipping"); n != 1+1+1+1+6 { // pretrain, collect, scripted annotations, their judgement, 6 runs
		t.Errorf("rerun skipped %d stages, want 10:\n%s", n, log.String())
	}
	if strings.Contains(log.String(), "refining") {
		t.Error("rerun refined again")
	}
	tableOf := func(s string) string { return s[:strings.Index(s, "- Sub-optimal")] }
	if tableOf(out.String()) != tableOf(first) {
		t.Errorf("rerun table differs:\n%s\nvs\n%s", out.String(), first)
	}

	// A rerun with settings that change finished stages is refused, naming
	// them, and relabels nothing.
	for _, tc := range []struct {
		flag, value, want string
	}{
		{"--env", "walker2d", "env hopper (now walker2d)"},
		{"--pretrain-seed", "7", "pretrain seed 1 (now 7)"},
		{"--refine-steps", "4096", "refine steps 2048 (now 4096)"},
	} {
		changed := append([]string(nil), args...)
		for i := range changed {
			if changed[i] == tc.flag {
				changed[i+1] = tc.value
			}
		}
		if !slices.Contains(changed, tc.flag) {
			changed = append(changed, tc.flag, tc.value)
		}
		err := runCommand(changed, &out, &log)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rerun with %s %s: %v, want %q", tc.flag, tc.value, err, tc.want)
		}
	}

	// More seeds need only --seeds: the rest comes from the directory's
	// record, and only the new seed's runs are refined (issue 30, rough
	// edge 18); a flag given is still checked against the record.
	if err := runCommand([]string{"experiment", "--out", dir, "--pretrain-seed", "7", "--seeds", "3", "--metrics-addr", ""}, &out, &log); err == nil ||
		!strings.Contains(err.Error(), "pretrain seed 1 (now 7)") {
		t.Errorf("--seeds with another --pretrain-seed: %v", err)
	}
	out.Reset()
	log.Reset()
	if err := runCommand([]string{"experiment", "--out", dir, "--seeds", "3", "--metrics-addr", ""}, &out, &log); err != nil {
		t.Fatal(err, log.String())
	}
	if n := strings.Count(log.String(), "refining"); n != 3 {
		t.Errorf("--seeds 3 refined %d runs, want 3 (seed 3 of ppo, ultra-ra, rice):\n%s", n, log.String())
	}
	for _, want := range []string{"| ppo | 3 |", "| ultra-ra | 3 |", "| rice | 3 |", "seeds 3..3 were added later"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--seeds 3: the table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestExperimentWithoutCurves: refinements too short to finish a training
// episode (Pong games are long) still give the results table and the HTML
// report; only the plot is skipped, with the reason.
func TestExperimentWithoutCurves(t *testing.T) {
	if testing.Short() {
		t.Skip("experiment test skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "exp")
	args := []string{"experiment", "--env", "pong", "--out", dir, "--pretrain-steps", "1024", "--collect-episodes", "2",
		"--variants", "ppo", "--seeds", "1", "--refine-steps", "1024", "--eval-episodes", "1", "--metrics-addr", ""}
	var out, log bytes.Buffer
	if err := runCommand(args, &out, &log); err != nil {
		t.Fatal(err, log.String())
	}
	if !strings.Contains(out.String(), "no plots (") || !strings.Contains(out.String(), "| ppo | 1 |") {
		t.Fatalf("output lacks the table or the reason for no plots:\n%s", out.String())
	}
	for _, f := range []string{"results.md", "results.csv", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "curves.png")); err == nil {
		t.Error("curves.png written without curves")
	}
}

// TestExpertImitationExperiment: the expert advisor annotates from its
// checkpoint, ultra-i and ultra-ia refine with the imitation term, the
// table marks them as this project's and names the advisor, and each run's
// summary counts its demonstrations.
func TestExpertImitationExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("experiment test skipped in -short mode")
	}
	dir := t.TempDir()
	ck := filepath.Join(dir, "agent")
	var out, log bytes.Buffer
	if err := runCommand([]string{"train", "--env", "hopper", "--steps", "2048", "--out", ck, "--metrics-addr", ""}, &out, &log); err != nil {
		t.Fatal(err, log.String())
	}
	exp := filepath.Join(dir, "exp")
	args := []string{"experiment", "--env", "hopper", "--checkpoint", filepath.Join(ck, "checkpoint.bin"), "--out", exp,
		"--collect-episodes", "3", "--advisor", "expert", "--expert", filepath.Join(ck, "checkpoint.bin"),
		"--variants", "ppo,ultra-i,ultra-ia", "--seeds", "1", "--refine-steps", "2048", "--eval-episodes", "1", "--metrics-addr", ""}
	if err := runCommand(args, &out, &log); err != nil {
		t.Fatal(err, log.String())
	}
	md := out.String()
	for _, want := range []string{"| ultra-i † | 1 |", "| ultra-ia † | 1 |", "Advisor: expert (the policy of checkpoint", "imitation weight β 1"} {
		if !strings.Contains(md, want) {
			t.Errorf("the table lacks %q:\n%s", want, md)
		}
	}
	anns, err := os.ReadFile(filepath.Join(exp, "annotate", "expert.jsonl"))
	if err != nil || !strings.Contains(string(anns), `"source":"expert"`) {
		t.Fatalf("expert annotations: %v", err)
	}
	for _, v := range []string{"ultra-i", "ultra-ia"} {
		b, err := os.ReadFile(filepath.Join(exp, "refine", v+"-s1", "modulator.json"))
		if err != nil {
			t.Fatal(err)
		}
		var sum struct {
			Demonstrations int `json:"demonstrations"`
			Overrides      int `json:"overrides"`
		}
		if err := json.Unmarshal(b, &sum); err != nil || sum.Demonstrations == 0 || sum.Overrides != 0 {
			t.Errorf("%s summary: %+v, %v", v, sum, err)
		}
	}
}
