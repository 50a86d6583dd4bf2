package llm

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"unicode"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/interpret"
)

// FuzzParseAnswer feeds arbitrary answers to the parser of the LLM's
// untrusted output (issue 14's fuzzing). Whatever the answer, parsing must
// not panic, and every annotation it returns must be usable: an episode of
// the prompt, a step the prompt showed, an action the task takes and a
// reward in [-1, 1], at most MaxCritical per episode.
func FuzzParseAnswer(f *testing.F) {
	trajs := hopperTrajs(f, 2)
	spec := hopper(f)
	eps := map[string]*shownEpisode{}
	for i := range trajs {
		s, err := interpret.Summarize(spec, &trajs[i], interpret.Budget{MaxTokens: 600})
		if err != nil {
			f.Fatal(err)
		}
		shown := map[int]bool{}
		for _, k := range s.Steps {
			shown[k] = true
		}
		eps[trajs[i].ID] = &shownEpisode{traj: &trajs[i], shown: shown}
	}
	// Answers in the shapes models give: JSON mode, prose around a fenced
	// block, a bare list, the three-step mode's fields, and broken ones.
	for _, s := range []string{
		`{"annotations":[{"episode":"ep00","step":0,"reason":"the thigh lags","action":[0.5,-0.2,0.1],"reward":0.6}]}`,
		"Looking at the episodes, the hopper falls after it over-extends.\n```json\n{\"annotations\": [{\"episode\": \"ep01\", \"step\": 0, \"reason\": \"lean\", \"action\": [1, 1, -1], \"reward\": -0.4}]}\n```\nThat is all.",
		`[{"episode":"ep00","step":"0","action":["0.1","2","nan"],"reward":"1e999"}]`,
		`{"critical_states":[{"episode":"ep00","step":0}],"annotations":[{"episode":"ep00","step":0,"reason":"x","action":[0,0,0],"reward":5}]}`,
		`{"annotations":[{"episode":"ep00","step":1e300,"action":[1e39,0,0],"reward":-1e-320}]}`,
		"```\n{\"annotations\": [\n```", `{"annotations": {}}`, `{{{{[[[[`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		var rep advisor.Report
		anns, _ := parseAnswer(answer, eps, spec, 3, "llm:fuzz", &rep)
		check := advisor.Checker{Spec: spec}
		per := map[string]int{}
		for i := range anns {
			a := &anns[i]
			ep, ok := eps[a.Episode]
			switch {
			case !ok:
				t.Fatalf("annotation of unknown episode %q", a.Episode)
			case !ep.shown[a.Step]:
				t.Fatalf("annotation of step %d, not shown", a.Step)
			case check.Check(a) != "":
				t.Fatalf("unusable annotation %+v: %s", a, check.Check(a))
			case math.Abs(a.Reward) > 1:
				t.Fatalf("reward %v", a.Reward)
			}
			per[a.Episode]++
			if per[a.Episode] > 3 {
				t.Fatalf("more than max_critical annotations of %s", a.Episode)
			}
		}
	})
}

// FuzzImportBatch feeds arbitrary Batch API results files to ImportBatch
// (issue 27): whatever the file, importing must not panic, every
// annotation must be usable, and no error may carry a control character
// from the file to the terminal.
func FuzzImportBatch(f *testing.F) {
	trajs := hopperTrajs(f, 2)
	spec := hopper(f)
	cfg := testConfig("http://127.0.0.1:1/v1")
	cfg.TrajectoriesPerRequest, cfg.MaxResponseBytes = 2, 1<<12
	a := newAdvisor(f, cfg, nil)
	var exp bytes.Buffer
	if _, err := a.ExportBatch(trajs, &exp); err != nil {
		f.Fatal(err)
	}
	var in batchInput
	if err := json.Unmarshal(bytes.TrimSpace(exp.Bytes()), &in); err != nil {
		f.Fatal(err)
	}
	answer := completion(goodAnswer(f, cfg, trajs, request{req: openai.ChatCompletionRequest{Messages: in.Body.Messages}}))
	f.Add([]byte(outputLine(f, in.CustomID, 200, answer, "")))
	f.Add([]byte(outputLine(f, in.CustomID, 0, nil, "rate_limit_exceeded")))
	f.Add([]byte(outputLine(f, in.CustomID, 500, map[string]string{"error": "\x1b[2Kok"}, "")))
	f.Add([]byte(`{"custom_id":"x\u001b]0;t\u0007","response":null,"error":null}`))
	f.Add([]byte("{\n{"))
	check := advisor.Checker{Spec: spec}
	f.Fuzz(func(t *testing.T, b []byte) {
		anns, _, err := a.ImportBatch(trajs, bytes.NewReader(b))
		if err != nil {
			for _, r := range err.Error() {
				if unicode.IsControl(r) {
					t.Fatalf("error carries the control character %q: %q", r, err)
				}
			}
		}
		for i := range anns {
			if why := check.Check(&anns[i]); why != "" {
				t.Fatalf("an imported annotation is unusable: %s", why)
			}
		}
	})
}
