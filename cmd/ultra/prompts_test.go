package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/traj"
)

// TestPrintPrompts: annotate --print-prompts needs no endpoint, model or
// key, writes every request as JSON and text, and its coverage figures
// agree with the citable steps it wrote.
func TestPrintPrompts(t *testing.T) {
	t.Setenv("ULTRA_LLM_URL", "")
	t.Setenv("ULTRA_LLM_MODEL", "")
	t.Setenv("ULTRA_LLM_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "")
	dir := t.TempDir()
	tj := filepath.Join(dir, "traj.jsonl")
	if out, err := runCLI(t, "collect", "--env", "hopper", "--policy", "random", "--episodes", "6", "--out", tj); err != nil {
		t.Fatal(err, out)
	}
	before := filepath.Join(dir, "before.yaml")
	if err := os.WriteFile(before, []byte("summary: stride\nsummary_tokens: 1200\ncontrast: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trajs, err := traj.ReadJSONL[traj.Trajectory](tj)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"after", nil},
		{"before", []string{"--llm-config", before}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := filepath.Join(dir, "prompts-"+tc.name)
			out, err := runCLI(t, append([]string{"annotate", "--traj", tj, "--advisor", "llm", "--print-prompts", pd, "--json"}, tc.extra...)...)
			if err != nil {
				t.Fatal(err, out)
			}
			var got struct {
				Requests []struct {
					Name    string           `json:"name"`
					Tokens  int              `json:"estimated_prompt_tokens"`
					Citable map[string][]int `json:"citable"`
				} `json:"requests"`
				Coverage struct {
					Requests    int     `json:"requests"`
					TokensTotal int     `json:"tokens_total"`
					Failed      int     `json:"failed"`
					LastWindow  float64 `json:"last_window_coverage"`
					Critical    int     `json:"scripted_critical"`
				} `json:"coverage"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			// 6 episodes, 4 per request: 2 requests, each a .json and a .txt.
			files, _ := filepath.Glob(filepath.Join(pd, "*"))
			if len(got.Requests) != 2 || got.Coverage.Requests != 2 || len(files) != 4 {
				t.Fatalf("%d requests, files %v", len(got.Requests), files)
			}
			citable := map[string]map[int]bool{}
			total := 0
			for _, r := range got.Requests {
				total += r.Tokens
				for id, ks := range r.Citable {
					citable[id] = map[int]bool{}
					for _, k := range ks {
						citable[id][k] = true
					}
				}
			}
			// The coverage recomputed from what was written.
			sum, failed := 0.0, 0
			for _, tr := range trajs {
				if !tr.Terminated {
					continue
				}
				failed++
				n, from, hit := tr.Len(), max(0, tr.Len()-60), 0
				for k := from; k < n; k++ {
					if citable[tr.ID][k] {
						hit++
					}
				}
				sum += float64(hit) / float64(n-from)
			}
			if failed == 0 || got.Coverage.Failed != failed || got.Coverage.TokensTotal != total || got.Coverage.Critical == 0 {
				t.Errorf("coverage %+v; %d failed, %d tokens", got.Coverage, failed, total)
			}
			if want := sum / float64(failed); got.Coverage.LastWindow < want-1e-9 || got.Coverage.LastWindow > want+1e-9 {
				t.Errorf("last-window coverage %v, recomputed %v", got.Coverage.LastWindow, want)
			}
		})
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not llm", []string{"--advisor", "scripted", "--print-prompts", filepath.Join(dir, "x")}, "add --advisor llm"},
		{"with out", []string{"--advisor", "llm", "--print-prompts", filepath.Join(dir, "y"), "--out", filepath.Join(dir, "a.jsonl")}, "drop --out"},
		{"not empty", []string{"--advisor", "llm", "--print-prompts", filepath.Join(dir, "prompts-after")}, "is not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, append([]string{"annotate", "--traj", tj}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (%s), want %q", err, out, tc.want)
			}
		})
	}
}
