package llm

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/traj"
)

var citeRE = regexp.MustCompile(`(?m)^## Episode "([^"]+)".*\nSteps you may cite for this episode: (.*)$`)

// citableInPrompt parses the "Steps you may cite" lines of a prompt.
func citableInPrompt(t *testing.T, text string) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, m := range citeRE.FindAllStringSubmatch(text, -1) {
		for _, f := range strings.Split(m[2], ", ") {
			k, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("step list %q: %v", m[2], err)
			}
			out[m[1]] = append(out[m[1]], k)
		}
	}
	return out
}

// TestWritePrompts: the written requests are exactly what Annotate sends,
// need no key or endpoint, and list the citable steps the prompt lists.
func TestWritePrompts(t *testing.T) {
	trajs := hopperTrajs(t, 8)
	for _, tc := range []struct {
		mode     string
		files    []string
		tools    bool
		compare  bool // compare with what a live Annotate sends
		summary  string
		contrast bool
	}{
		{mode: ModeSingle, files: []string{"b0-single", "b1-single"}, compare: true, summary: interpret.ResolutionMulti, contrast: true},
		{mode: ModeSingle, files: []string{"b0-single", "b1-single"}, compare: true, summary: interpret.ResolutionStride},
		{mode: ModeThree, files: []string{"b0-identify", "b0-suggest", "b0-reward", "b1-identify", "b1-suggest", "b1-reward"}, summary: interpret.ResolutionMulti, contrast: true},
		{mode: ModeAgentic, files: []string{"b0-single", "b1-single"}, tools: true, summary: interpret.ResolutionMulti, contrast: true},
	} {
		t.Run(tc.mode+"-"+tc.summary, func(t *testing.T) {
			var sent []request
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) { reply(w, `{"annotations": []}`) })
			cfg := DefaultConfig()
			cfg.Model, cfg.Mode, cfg.Summary, cfg.Contrast = "test-model", tc.mode, tc.summary, tc.contrast
			cfg.APIKeyFile = filepath.Join(t.TempDir(), "no-such-key") // New would fail reading it
			if _, err := New(cfg, hopper(t), nil); err == nil {
				t.Fatal("New read a missing key file")
			}
			a, err := NewOffline(cfg, hopper(t))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "prompts")
			infos, err := a.WritePrompts(cloneTrajs(trajs), dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, in := range infos {
				names = append(names, in.Name)
			}
			if !slices.Equal(names, tc.files) {
				t.Fatalf("wrote %v, want %v", names, tc.files)
			}
			if tc.compare {
				live := cfg
				live.BaseURL, live.APIKeyFile = srv.URL+"/v1", ""
				if _, _, err := annotate(t, newAdvisor(t, live, nil), cloneTrajs(trajs)); err != nil {
					t.Fatal(err)
				}
				sent = srv.requests()
				if len(sent) != len(infos) {
					t.Fatalf("Annotate sent %d requests, %d written", len(sent), len(infos))
				}
			}
			for i, in := range infos {
				var pf struct {
					Request  openai.ChatCompletionRequest `json:"request"`
					Settings map[string]any               `json:"settings"`
					Citable  map[string][]int             `json:"citable"`
					Tokens   int                          `json:"estimated_prompt_tokens"`
				}
				b, err := os.ReadFile(filepath.Join(dir, in.Name+".json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &pf); err != nil {
					t.Fatal(err)
				}
				txt, err := os.ReadFile(filepath.Join(dir, in.Name+".txt"))
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range pf.Request.Messages {
					if !strings.Contains(string(txt), m.Content) {
						t.Errorf("%s.txt lacks the %s message", in.Name, m.Role)
					}
				}
				if pf.Settings["summary"] != tc.summary || pf.Settings["mode"] != tc.mode || pf.Request.Model != "test-model" || pf.Tokens != in.Tokens || in.Tokens <= 0 {
					t.Errorf("%s: settings %v, model %q, tokens %d/%d", in.Name, pf.Settings, pf.Request.Model, pf.Tokens, in.Tokens)
				}
				if got := len(pf.Request.Tools) == 1 && pf.Request.Tools[0].Function.Name == zoomTool; got != tc.tools {
					t.Errorf("%s: tools %+v", in.Name, pf.Request.Tools)
				}
				var all strings.Builder
				for _, m := range pf.Request.Messages {
					all.WriteString(m.Content + "\n")
				}
				if want := citableInPrompt(t, all.String()); !mapsEqual(want, pf.Citable) {
					t.Errorf("%s: citable %v, prompt lists %v", in.Name, pf.Citable, want)
				}
				if tc.compare {
					got := sent[i].req
					if len(got.Messages) != len(pf.Request.Messages) {
						t.Fatalf("%s: %d messages sent, %d written", in.Name, len(got.Messages), len(pf.Request.Messages))
					}
					// Batches run concurrently: match by content.
					found := false
					for _, q := range sent {
						if q.req.Messages[1].Content == pf.Request.Messages[1].Content && q.req.Messages[0].Content == pf.Request.Messages[0].Content {
							found = true
						}
					}
					if !found {
						t.Errorf("%s: no request sent with the written messages", in.Name)
					}
				}
			}
		})
	}
}

func mapsEqual(a, b map[string][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestContrast: a failed low-return episode gets the best episode's same
// steps next to it, and those steps become citable for the best episode.
func TestContrast(t *testing.T) {
	// Two episodes cut short and marked failed: the lower half of the batch.
	trajs := cloneTrajs(hopperTrajs(t, 4))
	slices.SortStableFunc(trajs, func(a, b traj.Trajectory) int { return strings.Compare(a.ID, b.ID) })
	cut := func(tr *traj.Trajectory, n int) {
		tr.Obs, tr.Actions, tr.Rewards = tr.Obs[:n*tr.ObsDim], tr.Actions[:n*tr.ActDim], tr.Rewards[:n]
		if tr.Snapshots != nil {
			tr.Snapshots = tr.Snapshots[:n]
		}
		tr.Return = 0
		for _, r := range tr.Rewards {
			tr.Return += float64(r)
		}
		tr.Terminated, tr.Truncated = true, false
	}
	for i := range trajs {
		if trajs[i].Len() < 35 {
			t.Fatalf("%s has %d steps; the test needs 35", trajs[i].ID, trajs[i].Len())
		}
	}
	cut(&trajs[2], 25)
	cut(&trajs[3], 20)
	best := &trajs[0]
	for i := range trajs {
		if trajs[i].Return > best.Return {
			best = &trajs[i]
		}
	}
	low := []*traj.Trajectory{&trajs[2], &trajs[3]}
	for i := range trajs {
		if i < 2 && trajs[i].Return <= max(trajs[2].Return, trajs[3].Return) {
			t.Fatalf("returns %v: the cut episodes are not the lowest", []float64{trajs[0].Return, trajs[1].Return, trajs[2].Return, trajs[3].Return})
		}
	}
	// The first cut episode's window is steps 0-24 (shorter than the dense
	// window); its last step, 24, is the contrast's last.
	contrastStep := 24
	sum, err := interpret.Summarize(hopper(t), best, interpret.Budget{MaxTokens: 200, Resolution: interpret.ResolutionMulti})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(sum.Steps, contrastStep) {
		t.Fatalf("step %d is in the best episode's own summary; the test needs one that is not", contrastStep)
	}
	var prompt string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		prompt = q.user()
		reply(w, answerJSON(item{best.ID, contrastStep, "the best episode here", []float64{0, 0, 0}, 0.5}))
	})
	cfg := testConfig(srv.URL)
	cfg.Summary, cfg.Contrast, cfg.SummaryTokens = interpret.ResolutionMulti, true, 200 // too small to show the contrast steps itself
	anns, rep, err := annotate(t, newAdvisor(t, cfg, nil), trajs)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range low {
		if !strings.Contains(prompt, "[contrast with "+g.ID+"]") {
			t.Errorf("no contrast for %s", g.ID)
		}
	}
	for _, g := range trajs[:2] {
		if strings.Contains(prompt, "[contrast with "+g.ID+"]") {
			t.Errorf("a contrast for %s, which is not a failed low-return episode", g.ID)
		}
	}
	if !strings.Contains(prompt, `Contrast: the best episode of this prompt, "`+best.ID+`"`) || !strings.Contains(prompt, "over the same steps 0-24, every 3rd step") {
		t.Errorf("prompt lacks the contrast header:\n%s", prompt)
	}
	if len(anns) != 1 || anns[0].Episode != best.ID || anns[0].Step != contrastStep {
		t.Errorf("citing contrast step %d of %s: annotations %+v, rejected %v", contrastStep, best.ID, anns, rep.Rejected)
	}
	// Without contrasts the same citation is rejected.
	cfg.Contrast = false
	anns, rep, err = annotate(t, newAdvisor(t, cfg, nil), trajs)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 0 || rep.Rejected[rejStepNotShown] != 1 || strings.Contains(prompt, "Contrast:") {
		t.Errorf("without contrast: %d annotations, rejected %v", len(anns), rep.Rejected)
	}
}
