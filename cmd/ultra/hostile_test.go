package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/run"
)

// These tests replay the hostile-input findings (issue 14): every case
// must fail cleanly — an error that names the problem, no panic (a panic
// would kill the test binary), nothing written.

// fixture is a small hopper checkpoint and data made from it.
type fixture struct {
	dir, ck, traj, walkerTraj string
	anns                      []advisor.Annotation
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	pre := filepath.Join(f.dir, "pre")
	if o, err := runCLI(t, "train", "--env", "hopper", "--steps", "256", "--num-steps", "128", "--num-minibatches", "2",
		"--update-epochs", "1", "--out", pre, "--progress", "log"); err != nil {
		t.Fatalf("train: %v\n%s", err, o)
	}
	f.ck = filepath.Join(pre, run.CheckpointFile)
	f.traj, f.walkerTraj = filepath.Join(f.dir, "hopper.jsonl"), filepath.Join(f.dir, "walker.jsonl")
	for _, c := range [][]string{
		{"collect", "--checkpoint", f.ck, "--episodes", "3", "--snapshots", "--out", f.traj},
		{"collect", "--env", "walker2d", "--policy", "zero", "--episodes", "2", "--out", f.walkerTraj},
	} {
		if o, err := runCLI(t, c...); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, o)
		}
	}
	annPath := filepath.Join(f.dir, "anns.jsonl")
	if o, err := runCLI(t, "annotate", "--traj", f.traj, "--advisor", "scripted", "--out", annPath); err != nil {
		t.Fatalf("annotate: %v\n%s", err, o)
	}
	b, err := os.ReadFile(annPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a advisor.Annotation
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		f.anns = append(f.anns, a)
	}
	if len(f.anns) == 0 {
		t.Fatal("the scripted advisor annotated nothing")
	}
	return f
}

// write stores lines (JSON values) as a JSONL file in the fixture dir.
func (f *fixture) write(t *testing.T, name string, items ...any) string {
	t.Helper()
	var b strings.Builder
	for _, it := range items {
		j, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// annotations returns copies of the fixture's annotations edited by edit.
func (f *fixture) annotations(edit func(a *advisor.Annotation)) []any {
	var out []any
	for _, a := range f.anns {
		c := a
		c.Action = append([]float32(nil), a.Action...)
		c.Snapshot = append([]float64(nil), a.Snapshot...)
		edit(&c)
		out = append(out, c)
	}
	return out
}

func TestHostileRefineInputs(t *testing.T) {
	f := newFixture(t)
	shortObs := f.write(t, "short.jsonl", map[string]any{"id": "x", "env": "hopper", "obs_dim": 11, "act_dim": 3,
		"obs": []float32{1, 2}, "actions": []float32{0, 0, 0}, "rewards": []float32{1}})
	negDim := f.write(t, "neg.jsonl", map[string]any{"id": "x", "env": "hopper", "obs_dim": -3, "act_dim": 3,
		"obs": []float32{}, "actions": []float32{0, 0, 0}, "rewards": []float32{1}})
	hugeReward := f.write(t, "reward.jsonl", f.annotations(func(a *advisor.Annotation) { a.Reward = 1e308 })...)
	shortAction := f.write(t, "action.jsonl", f.annotations(func(a *advisor.Annotation) { a.Action = a.Action[:2] })...)
	badSnap := f.write(t, "snap.jsonl", f.annotations(func(a *advisor.Annotation) { a.Snapshot = a.Snapshot[:5] })...)
	hugeSnap := f.write(t, "snap300.jsonl", f.annotations(func(a *advisor.Annotation) {
		for i := range a.Snapshot {
			a.Snapshot[i] = 1e300
		}
	})...)
	empty := f.write(t, "empty.jsonl")
	good := f.write(t, "good.jsonl", f.annotations(func(*advisor.Annotation) {})...)
	refine := func(extra ...string) []string {
		return append([]string{"refine", "--checkpoint", f.ck, "--steps", "256", "--progress", "log"}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"traj of another env", refine("--variant", "ultra-ra", "--annotations", good, "--traj", f.walkerTraj), `is from env "walker2d", want "hopper"`},
		{"traj with short obs", refine("--variant", "ultra-ra", "--annotations", good, "--traj", shortObs), "1 steps but 2 obs"},
		{"traj with a negative obs_dim", refine("--variant", "ultra-ra", "--annotations", good, "--traj", negDim), "obs/action dims -3/3"},
		{"checkpoint-every 0", refine("--checkpoint-every", "0", "--annotations", good), "checkpoint-every must be ≥ 1"},
		{"radius-quantile nan", refine("--radius-quantile", "nan", "--annotations", good), "radius quantile = NaN, want a quantile in (0, 1]"},
		{"radius-quantile -1", refine("--radius-quantile", "-1", "--annotations", good), "radius quantile = -1"},
		{"radius-quantile 2", refine("--radius-quantile", "2", "--annotations", good), "radius quantile = 2"},
		{"alpha nan", refine("--alpha", "nan", "--annotations", good), "alpha = NaN"},
		{"alpha inf", refine("--alpha", "inf", "--annotations", good), "alpha = +Inf"},
		{"override-prob nan", refine("--override-prob", "nan", "--annotations", good), "override probability = NaN"},
		{"rewards beyond [-1, 1]", refine("--variant", "ultra-r", "--annotations", hugeReward), "× reward outside [-1, 1]"},
		{"actions of the wrong length", refine("--variant", "ultra-a", "--annotations", shortAction), "× action has 2 values, hopper takes 3"},
		{"snapshots of the wrong length", refine("--variant", "rice", "--annotations", badSnap), "× snapshot has 5 values"},
		{"snapshots beyond MuJoCo's limit", refine("--variant", "rice", "--annotations", hugeSnap), "× snapshot value not finite or beyond ±1e10"},
		{"an empty annotations file", refine("--variant", "ultra-a", "--annotations", empty), "holds no annotations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(f.dir, "r-"+strings.ReplaceAll(tc.name, " ", "-"))
			o, err := runCLI(t, append(tc.args, "--out", out)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\n%s\nwant an error containing %q", err, o, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s was written (%v)", out, err)
			}
		})
	}
}

func TestHostileExperimentAndEvalFlags(t *testing.T) {
	dir := t.TempDir()
	fracYAML, fracLLM := filepath.Join(dir, "frac.yaml"), filepath.Join(dir, "frac-llm.yaml")
	os.WriteFile(fracYAML, []byte("num-steps: 2048.5\n"), 0o600)
	os.WriteFile(fracLLM, []byte("max_tokens: 1500.5\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a variant twice", []string{"experiment", "--variants", "ppo,ppo"}, "variant ppo is listed twice"},
		{"refine-steps 0", []string{"experiment", "--refine-steps", "0"}, "want refine steps ≥ 1"},
		{"refine-steps below one iteration", []string{"experiment", "--refine-steps", "100"}, "less than one iteration"},
		{"critical 0", []string{"experiment", "--critical", "0"}, "critical steps per episode = 0, want ≥ 1"},
		{"an unknown advisor", []string{"experiment", "--advisor", "bogus"}, `unknown --advisor "bogus"`},
		{"radius-quantile nan", []string{"experiment", "--radius-quantile", "nan"}, "radius quantile = NaN"},
		{"eval envs -3", []string{"eval", "--env", "hopper", "--envs", "-3"}, "--envs must be ≥ 0"},
		{"eval reset-noise nan", []string{"eval", "--env", "hopper", "--reset-noise", "nan"}, "--reset-noise must be a finite scale ≥ 0"},
		{"eval reset-noise inf", []string{"eval", "--env", "hopper", "--reset-noise", "inf"}, "--reset-noise must be a finite scale ≥ 0"},
		{"collect envs -3", []string{"collect", "--env", "hopper", "--policy", "zero", "--envs", "-3", "--out", filepath.Join(dir, "c.jsonl")}, "--envs must be ≥ 0"},
		// Finding 7: sizes are checked against the memory limit first.
		{"eval envs 100000", []string{"eval", "--env", "hopper", "--envs", "100000", "--episodes", "1", "--memory-limit", "1GiB"}, "100000 hopper instances at 3."},
		{"eval episodes 2e9", []string{"eval", "--env", "hopper", "--episodes", "2000000000", "--memory-limit", "1GiB"}, "the results of 2000000000 episodes needs about 59.6 GiB, more than the limit of 1.0 GiB (--memory-limit)"},
		{"train hidden 100000,100000", []string{"train", "--env", "hopper", "--hidden", "100000,100000", "--memory-limit", "1GiB", "--out", filepath.Join(dir, "t")}, "a network of 20003000007 parameters"},
		{"collect episodes 2e9", []string{"collect", "--env", "hopper", "--policy", "zero", "--episodes", "2000000000", "--envs", "2", "--memory-limit", "1GiB", "--out", filepath.Join(dir, "c2.jsonl")}, "2000000000 episodes of up to 1000 steps"},
		{"a bad memory limit", []string{"eval", "--env", "hopper", "--memory-limit", "lots"}, `memory limit "lots"`},
		// Finding 13: YAML fractions for integers were truncated.
		{"a fraction in --config", []string{"train", "--env", "hopper", "--config", fracYAML, "--out", filepath.Join(dir, "t2")}, `line 1: num-steps "2048.5": want an integer`},
		{"a fraction in --llm-config", []string{"experiment", "--advisor", "llm", "--llm-url", "http://127.0.0.1:1/v1", "--model", "m", "--llm-config", fracLLM}, `line 1: max_tokens "1500.5": want an integer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if args[0] == "experiment" {
				args = append(args, "--out", out)
			}
			o, err := runCLI(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\n%s\nwant an error containing %q", err, o, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s was written before the flags were checked (%v)", out, err)
			}
		})
	}
}

// readMetrics returns the rows of a run's metrics.jsonl.
func readMetrics(t *testing.T, dir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, run.MetricsJSONL))
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestRefineResume: an interrupted refinement continues with its variant
// (overrides keep happening after the resume), train --resume refuses it,
// and a second process cannot share its directory.
func TestRefineResume(t *testing.T) {
	f := newFixture(t)
	good := f.write(t, "good.jsonl", f.annotations(func(*advisor.Annotation) {})...)
	out := filepath.Join(f.dir, "ref")
	base := []string{"--progress", "log", "--checkpoint-every", "1"}
	if o, err := runCLI(t, append([]string{"refine", "--checkpoint", f.ck, "--variant", "ultra-a", "--annotations", good,
		"--override-prob", "1", "--anneal-steps", "0", "--radius", "100", "--steps", "256", "--envs", "1", "--out", out}, base...)...); err != nil {
		t.Fatalf("refine: %v\n%s", err, o)
	}
	if _, err := runCLI(t, "refine", "--out", out, "--resume", "--variant", "ppo"); err == nil || !strings.Contains(err.Error(), "--variant cannot change") {
		t.Errorf("refine --resume --variant: %v", err)
	}
	if _, err := runCLI(t, "train", "--out", out, "--resume"); err == nil || !strings.Contains(err.Error(), "is a refinement run") {
		t.Errorf("train --resume on a refinement: %v", err)
	}
	lock, err := run.Acquire(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "refine", "--out", out, "--resume", "--steps", "512"); err == nil || !strings.Contains(err.Error(), "in use by process") {
		t.Errorf("refine --resume while the directory is held: %v", err)
	}
	lock.Release()
	if o, err := runCLI(t, append([]string{"refine", "--out", out, "--resume", "--steps", "512"}, base...)...); err != nil {
		t.Fatalf("refine --resume: %v\n%s", err, o)
	}
	rows := readMetrics(t, out)
	if len(rows) != 4 {
		t.Fatalf("%d metric rows after resuming to 512 steps of 128, want 4", len(rows))
	}
	for i, r := range rows {
		if r["iteration"].(float64) != float64(i+1) || r["overrides"].(float64) == 0 {
			t.Errorf("row %d: iteration %v, modulated actions %v (the variant must keep acting after the resume)", i, r["iteration"], r["overrides"])
		}
	}
	if _, err := os.Stat(filepath.Join(out, run.PrevCheckpoint)); err != nil {
		t.Errorf("no previous checkpoint kept: %v", err)
	}
	// A damaged checkpoint names the previous one.
	if err := os.WriteFile(filepath.Join(out, run.CheckpointFile), []byte("ULTRACKP garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "refine", "--out", out, "--resume", "--steps", "640"); err == nil || !strings.Contains(err.Error(), run.PrevCheckpoint) {
		t.Errorf("resume from a damaged checkpoint: %v, want the previous checkpoint named", err)
	}
	// --resume of a directory that does not exist creates nothing.
	missing := filepath.Join(f.dir, "nothing")
	if _, err := runCLI(t, "train", "--out", missing, "--resume"); err == nil {
		t.Error("train --resume of a missing directory: no error")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("train --resume created %s", missing)
	}
}

// TestOutputsNeverClobber: an output that is an input, an existing file
// (without --force) or a directory is refused, and the file is intact.
func TestOutputsNeverClobber(t *testing.T) {
	f := newFixture(t)
	before, _ := os.ReadFile(f.traj)
	ckBefore, _ := os.ReadFile(f.ck)
	existing := f.write(t, "existing.jsonl", map[string]int{"a": 1})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"annotate onto its input", []string{"annotate", "--traj", f.traj, "--out", f.traj}, "is the input"},
		{"collect onto the checkpoint", []string{"collect", "--checkpoint", f.ck, "--episodes", "1", "--out", f.ck}, "is the input"},
		{"annotate onto an existing file", []string{"annotate", "--traj", f.traj, "--out", existing}, "exists: choose another file, or pass --force"},
		{"collect into a directory", []string{"collect", "--env", "hopper", "--policy", "zero", "--episodes", "1", "--out", f.dir}, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := runCLI(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	if after, _ := os.ReadFile(f.traj); string(after) != string(before) {
		t.Error("the trajectories were overwritten")
	}
	if after, _ := os.ReadFile(f.ck); string(after) != string(ckBefore) {
		t.Error("the checkpoint was overwritten")
	}
	if _, err := runCLI(t, "annotate", "--traj", f.traj, "--advisor", "random", "--out", existing, "--force"); err != nil {
		t.Errorf("--force: %v", err)
	}
}

// TestHostileLLMExitCodes covers issue 14's finding 11: annotate exited 0
// after a 401 or when every request failed. It must fail with the reason,
// keeping what was annotated.
func TestHostileLLMExitCodes(t *testing.T) {
	dir := t.TempDir()
	trajPath := filepath.Join(dir, "t.jsonl")
	if o, err := runCLI(t, "collect", "--env", "hopper", "--policy", "zero", "--episodes", "3", "--out", trajPath); err != nil {
		t.Fatalf("collect: %v\n%s", err, o)
	}
	cfgPath := filepath.Join(dir, "llm.yaml")
	if err := os.WriteFile(cfgPath, []byte("trajectories_per_request: 1\nmax_retries: 0\njson_mode: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chat := func(w http.ResponseWriter, content string) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "model": "m",
			"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
			"usage":   map[string]int{"prompt_tokens": 10, "completion_tokens": 10}})
	}
	fail := func(w http.ResponseWriter, status int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"message":"no","type":"test"}}`))
	}
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter, body string)
		want   string
		kept   int // annotations written, -1: no file
	}{
		{"401", func(w http.ResponseWriter, _ string) { fail(w, http.StatusUnauthorized) }, "401", -1},
		{"every answer unusable", func(w http.ResponseWriter, _ string) { chat(w, "I cannot help with that.") }, "every batch failed (3)", -1},
		{"one batch of three answered", func(w http.ResponseWriter, body string) {
			if strings.Contains(body, "s1-ep000000") {
				chat(w, `{"annotations":[{"episode":"s1-ep000000","step":0,"action":[0.5,-0.5,0.5],"reward":0.5,"reason":"lean forward"}]}`)
				return
			}
			fail(w, http.StatusBadRequest)
		}, "kept 1 annotations", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				tc.handle(w, string(b))
			}))
			defer srv.Close()
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".jsonl")
			o, err := runCLI(t, "annotate", "--traj", trajPath, "--out", out, "--advisor", "llm", "--llm-url", srv.URL+"/v1",
				"--model", "m", "--llm-config", cfgPath)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\n%s\nwant a failure containing %q", err, o, tc.want)
			}
			b, rerr := os.ReadFile(out)
			switch {
			case tc.kept < 0 && rerr == nil:
				t.Errorf("%s was written", out)
			case tc.kept >= 0 && (rerr != nil || strings.Count(string(b), "\n") != tc.kept):
				t.Errorf("want %d annotations kept in %s: %v %q", tc.kept, out, rerr, b)
			}
		})
	}
	if _, err := runCLI(t, "annotate", "--traj", trajPath, "--out", filepath.Join(dir, "x.jsonl"), "--llm-deadline", "soon"); err == nil || !strings.Contains(err.Error(), `--llm-deadline "soon"`) {
		t.Errorf("--llm-deadline soon: %v", err)
	}
}

// TestBatchAPIRoundTrip: annotate --batch-export writes Batch API input
// lines without any endpoint; a hand-written output file in the Batch API
// format is read back with --batch-import into annotations (issue 15).
func TestBatchAPIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	trajPath := filepath.Join(dir, "t.jsonl")
	if o, err := runCLI(t, "collect", "--env", "hopper", "--policy", "zero", "--episodes", "2", "--out", trajPath); err != nil {
		t.Fatalf("collect: %v\n%s", err, o)
	}
	reqs := filepath.Join(dir, "requests.jsonl")
	// Neither file needs an endpoint or a key, and neither mentions one
	// (issue 30, rough edges 12 and 13); the export needs the model.
	t.Setenv("ULTRA_LLM_URL", "")
	t.Setenv("ULTRA_LLM_MODEL", "")
	if o, err := runCLI(t, "annotate", "--traj", trajPath, "--batch-export", reqs, "--advisor", "llm"); err == nil ||
		!strings.Contains(err.Error(), "needs a model: --model NAME") || strings.Contains(err.Error(), "llm-url") {
		t.Fatalf("export without a model: %v\n%s", err, o)
	}
	llmArgs := []string{"--advisor", "llm", "--model", "gpt-test"}
	if o, err := runCLI(t, append([]string{"annotate", "--traj", trajPath, "--batch-export", reqs}, llmArgs...)...); err != nil || !strings.Contains(o, "wrote 1 Batch API requests") || strings.Contains(o, "API key") {
		t.Fatalf("export: %v\n%s", err, o)
	}
	b, err := os.ReadFile(reqs)
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		CustomID string `json:"custom_id"`
	}
	if err := json.Unmarshal(b, &in); err != nil || in.CustomID == "" {
		t.Fatalf("input line %q: %v", b, err)
	}
	content := `{"annotations":[{"episode":"s1-ep000000","step":0,"reason":"lean","action":[0.2,0.2,0.2],"reward":-0.5,"suggested_reward":0.5}]}`
	body, _ := json.Marshal(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
		"usage":   map[string]int{"prompt_tokens": 1000, "completion_tokens": 50}})
	outLine := fmt.Sprintf(`{"id":"batch_req_1","custom_id":%q,"response":{"status_code":200,"request_id":"r1","body":%s},"error":null}`, in.CustomID, body)
	results := filepath.Join(dir, "results.jsonl")
	os.WriteFile(results, []byte(outLine+"\n"), 0o600)
	anns := filepath.Join(dir, "llm.jsonl")
	if o, err := runCLI(t, append([]string{"annotate", "--traj", trajPath, "--batch-import", results, "--out", anns}, llmArgs...)...); err != nil || !strings.Contains(o, "1 critical states") || strings.Contains(o, "API key") {
		t.Fatalf("import: %v\n%s", err, o)
	}
	// An experiment refuses annotations of episodes it did not collect;
	// it asks the llm advisor nothing, so it needs no endpoint or model.
	if o, err := runCLI(t, "experiment", "--env", "hopper", "--out", filepath.Join(dir, "ex"), "--pretrain-steps", "2048", "--collect-episodes", "2",
		"--variants", "ppo,ultra-a", "--seeds", "1", "--refine-steps", "2048", "--advisor", "llm",
		"--llm-annotations", anns); err == nil || !strings.Contains(err.Error(), "made from other episodes") {
		t.Fatalf("foreign annotations: %v\n%s", err, o)
	}
}
