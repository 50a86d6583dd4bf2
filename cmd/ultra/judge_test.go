package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/judge"
	"github.com/ultra-rl/ultra/engine/traj"
)

// TestJudge runs ultra judge on a small hopper checkpoint's scripted
// annotations: it writes judge.json and judge.md and prints the
// per-advisor summary; bad inputs are refused up front, each with its fix.
func TestJudge(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(f.dir, "judge")
	o, err := runCLI(t, "judge", "--checkpoint", f.ck, "--annotations", filepath.Join(f.dir, "anns.jsonl"), "--traj", f.traj,
		"--rollouts", "2", "--horizon", "20", "--jobs", "2", "--progress", "log", "--out", out)
	if err != nil {
		t.Fatalf("judge: %v\n%s", err, o)
	}
	for _, want := range []string{"judged " + strconv.Itoa(len(f.anns)) + " hopper annotations (2 rollouts of each arm to 20 steps", "| scripted | " + strconv.Itoa(len(f.anns)) + " | ", "judge.md"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "judge.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res judge.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Env != "hopper" || len(res.Verdicts) != len(f.anns) || len(res.Advisors) != 1 || res.Advisors[0].Annotations != len(f.anns) {
		t.Errorf("judge.json: env %q, %d verdicts, advisors %+v; want hopper and %d", res.Env, len(res.Verdicts), res.Advisors, len(f.anns))
	}
	for _, fig := range []string{"judge.png", "judge.svg"} {
		if st, err := os.Stat(filepath.Join(out, fig)); err != nil || st.Size() == 0 {
			t.Errorf("figure %s: %v", fig, err)
		}
	}
	if md, err := os.ReadFile(filepath.Join(out, "judge.md")); err != nil || !strings.Contains(string(md), "### Per annotation") || !strings.Contains(string(md), "](judge.svg)") {
		t.Errorf("judge.md: %v\n%s", err, md)
	}
	// The verified annotations: those whose verdict helps, ready for refine.
	verified, err := traj.ReadJSONL[advisor.Annotation](filepath.Join(out, "verified-scripted.jsonl"))
	if err != nil || len(verified) != res.Advisors[0].Helps.Count {
		t.Errorf("verified-scripted.jsonl: %d annotations (%v), want the %d that help", len(verified), err, res.Advisors[0].Helps.Count)
	}
	if !strings.Contains(o, "scripted: "+strconv.Itoa(res.Advisors[0].Helps.Count)+" of "+strconv.Itoa(len(f.anns))+" kept in ") {
		t.Errorf("output does not say how many annotations were verified:\n%s", o)
	}

	// Annotations of episodes collected without snapshots.
	plain, plainAnns := filepath.Join(f.dir, "plain.jsonl"), filepath.Join(f.dir, "plain-anns.jsonl")
	for _, c := range [][]string{
		{"collect", "--checkpoint", f.ck, "--episodes", "2", "--out", plain},
		{"annotate", "--traj", plain, "--advisor", "scripted", "--out", plainAnns},
	} {
		if o, err := runCLI(t, c...); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, o)
		}
	}
	anns := filepath.Join(f.dir, "anns.jsonl")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"nothing given", []string{"--horizon", "0", "--rollouts", "0"}, []string{"--checkpoint C is required", "--annotations A is required", "--out DIR is required", "horizon 0: want ≥ 1 step", "rollouts 0: want ≥ 1"}},
		{"no snapshots", []string{"--checkpoint", f.ck, "--annotations", plainAnns, "--out", filepath.Join(f.dir, "j2")}, []string{"plain-anns.jsonl:1: the annotation carries no simulator snapshot", "'ultra collect --snapshots'"}},
		{"no snapshots in the trajectories either", []string{"--checkpoint", f.ck, "--annotations", plainAnns, "--traj", plain, "--out", filepath.Join(f.dir, "j3")}, []string{"no simulator snapshot"}},
		{"other episodes", []string{"--checkpoint", f.ck, "--annotations", anns, "--traj", plain, "--out", filepath.Join(f.dir, "j4")}, []string{"made from other episodes"}},
		{"output exists", []string{"--checkpoint", f.ck, "--annotations", anns, "--out", out}, []string{"judge.json exists: choose another file, or pass --force"}},
		{"missing input", []string{"--checkpoint", f.ck, "--annotations", filepath.Join(f.dir, "none.jsonl"), "--out", filepath.Join(f.dir, "j5")}, []string{"none.jsonl: no such file"}},
		{"bad progress", []string{"--checkpoint", f.ck, "--annotations", anns, "--out", filepath.Join(f.dir, "j6"), "--progress", "dots"}, []string{"--progress must be bar, log or auto"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := runCLI(t, append([]string{"judge"}, tc.args...)...)
			if err == nil {
				t.Fatalf("accepted:\n%s", o)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
