package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/advisor"
)

// replyTools writes a chat completion whose message calls tools.
func replyTools(w http.ResponseWriter, calls ...openai.ToolCall) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-tools", "object": "chat.completion", "model": "test-model",
		"choices": []map[string]any{{"index": 0, "finish_reason": "tool_calls",
			"message": map[string]any{"role": "assistant", "content": "", "tool_calls": calls}}},
		"usage": map[string]int{"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
	})
}

// showCall is a show_steps call with raw JSON arguments.
func showCall(id, name, args string) openai.ToolCall {
	return openai.ToolCall{ID: id, Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: name, Arguments: args}}
}

func window(ep string, from, to int) string {
	return fmt.Sprintf(`{"episode": %q, "from": %d, "to": %d}`, ep, from, to)
}

// round is how many tool-calling answers the conversation already holds.
func round(q request) int {
	n := 0
	for _, m := range q.req.Messages {
		if len(m.ToolCalls) > 0 {
			n++
		}
	}
	return n
}

// toolResults returns the tool messages of the last round, in order.
func toolResults(q request) []openai.ChatCompletionMessage {
	var out []openai.ChatCompletionMessage
	for _, m := range q.req.Messages {
		switch {
		case len(m.ToolCalls) > 0:
			out = nil
		case m.Role == openai.ChatMessageRoleTool:
			out = append(out, m)
		}
	}
	return out
}

func TestZoomTool(t *testing.T) {
	trajs := hopperTrajs(t, 4)
	base := testConfig("http://unused")
	// The longest episode, and a window of it the summary does not show.
	tr := &trajs[0]
	for i := range trajs {
		if trajs[i].Len() > tr.Len() {
			tr = &trajs[i]
		}
	}
	summary := shown(t, base, tr)
	hidden := -1
	for k := 1; k+4 < tr.Len(); k++ {
		if !slices.Contains(summary, k+2) {
			hidden = k
			break
		}
	}
	if hidden < 0 {
		t.Fatalf("%s shows every step %v", tr.ID, summary)
	}
	ep := tr.ID
	zoomed := hidden + 2 // inside [hidden, hidden+4], not in the summary
	notShown := -1
	for k := tr.Len() - 1; k >= 0; k-- {
		if !slices.Contains(summary, k) && (k < hidden || k > hidden+4) {
			notShown = k
			break
		}
	}
	cite := func(steps ...int) string {
		var items []item
		for _, k := range steps {
			items = append(items, item{ep, k, "push-off", []float64{0.1, 0.2, 0.3}, -0.5})
		}
		return answerJSON(items...)
	}

	cases := []struct {
		name         string
		maxCalls     int
		toolSteps    int
		budget       int
		rounds       [][]openai.ToolCall // the tool calls of each round; then the answer
		answer       string
		wantErr      string // substring; "budget" for advisor.ErrBudget
		wantSteps    []int  // annotated steps
		wantRejected map[string]int
		wantErrors   []int // per round: how many tool results start with "error:"
		wantNone     bool  // the last request has tool_choice "none"
		wantRequests int
	}{
		{name: "zoom then cite", maxCalls: 4, toolSteps: 60,
			rounds:    [][]openai.ToolCall{{showCall("c1", zoomTool, window(ep, hidden, hidden+4))}},
			answer:    cite(zoomed, notShown),
			wantSteps: []int{zoomed}, wantRejected: map[string]int{rejStepNotShown: 1},
			wantErrors: []int{0}, wantRequests: 2},
		{name: "malformed calls", maxCalls: 6, toolSteps: 60,
			rounds: [][]openai.ToolCall{{
				showCall("c1", zoomTool, "not json"),
				showCall("c2", zoomTool, `{"episode": "`+ep+`", "from": 1.5, "to": 3}`),
				showCall("c3", "other_tool", window(ep, 0, 2)),
				showCall("c4", zoomTool, `{"episode": "`+ep+`", "from": 1}`),
				showCall("c5", zoomTool, `{"episode": "`+ep+`", "from": 1, "to": 2, "extra": true}`),
			}},
			answer:    cite(summary[1], zoomed),
			wantSteps: []int{summary[1]}, wantRejected: map[string]int{rejToolBadCall: 5, rejStepNotShown: 1},
			wantErrors: []int{5}, wantRequests: 2},
		{name: "out-of-range windows", maxCalls: 6, toolSteps: 5,
			rounds: [][]openai.ToolCall{{
				showCall("c1", zoomTool, window(ep, 0, tr.Len())),
				showCall("c2", zoomTool, window(ep, -1, 2)),
				showCall("c3", zoomTool, window(ep, 5, 3)),
				showCall("c4", zoomTool, window("nope", 0, 1)),
				showCall("c5", zoomTool, window(ep, 0, 9)), // 10 steps > tool_steps 5
			}},
			answer:    cite(summary[1]),
			wantSteps: []int{summary[1]}, wantRejected: map[string]int{rejToolBadWindow: 5},
			wantErrors: []int{5}, wantRequests: 2},
		{name: "too many calls", maxCalls: 2, toolSteps: 60,
			rounds: [][]openai.ToolCall{{
				showCall("c1", zoomTool, window(ep, hidden, hidden+4)),
				showCall("c2", zoomTool, window(ep, 0, 0)),
				showCall("c3", zoomTool, window(ep, notShown, notShown)),
			}},
			answer:    cite(zoomed, notShown),
			wantSteps: []int{zoomed}, wantRejected: map[string]int{rejToolTooMany: 1, rejStepNotShown: 1},
			wantErrors: []int{1}, wantNone: true, wantRequests: 2},
		{name: "calls past the limit fail the batch", maxCalls: 1, toolSteps: 60,
			rounds: [][]openai.ToolCall{
				{showCall("c1", zoomTool, window(ep, hidden, hidden+4))},
				{showCall("c2", zoomTool, window(ep, 0, 1))},
			},
			wantErr: "again", wantErrors: []int{0}, wantNone: true, wantRequests: 2},
		{name: "tool rounds count against the budget", maxCalls: 4, toolSteps: 60, budget: 1,
			rounds:  [][]openai.ToolCall{{showCall("c1", zoomTool, window(ep, hidden, hidden+4))}},
			answer:  cite(zoomed),
			wantErr: "budget", wantErrors: []int{0}, wantRequests: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
				if k := round(q); k < len(tc.rounds) {
					replyTools(w, tc.rounds[k]...)
					return
				}
				reply(w, tc.answer)
			})
			cfg := testConfig(srv.URL)
			cfg.Mode, cfg.MaxToolCalls, cfg.ToolSteps, cfg.BudgetRequests = ModeAgentic, tc.maxCalls, tc.toolSteps, tc.budget
			cfg.MaxRetries = 0
			a := newAdvisor(t, cfg, nil)
			anns, rep, err := annotate(t, a, trajs)
			switch {
			case tc.wantErr == "budget":
				if !errors.Is(err, advisor.ErrBudget) {
					t.Fatalf("err = %v, want ErrBudget", err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || rep.Failed != 1 {
					t.Fatalf("err = %v, failed %d; want an error with %q and 1 failed batch", err, rep.Failed, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			reqs := srv.requests()
			if len(reqs) != tc.wantRequests || rep.Requests != tc.wantRequests {
				t.Fatalf("%d requests (report %d), want %d", len(reqs), rep.Requests, tc.wantRequests)
			}
			// Every round trip is booked: the tool rounds' tokens count.
			if rep.PromptTokens != 100*tc.wantRequests || rep.CompletionTokens != 50*tc.wantRequests {
				t.Errorf("usage %d/%d, want %d/%d", rep.PromptTokens, rep.CompletionTokens, 100*tc.wantRequests, 50*tc.wantRequests)
			}
			first := reqs[0].req
			if len(first.Tools) != 1 || first.Tools[0].Function == nil || first.Tools[0].Function.Name != zoomTool || first.ToolChoice != nil {
				t.Errorf("first request tools %+v, tool_choice %v", first.Tools, first.ToolChoice)
			}
			if !strings.Contains(reqs[0].user(), "show_steps(episode, from, to)") {
				t.Error("the prompt does not tell the model about show_steps")
			}
			for r, wantErrs := range tc.wantErrors {
				if r+1 >= len(reqs) {
					break
				}
				res := toolResults(reqs[r+1])
				if len(res) != len(tc.rounds[r]) {
					t.Fatalf("round %d: %d tool results for %d calls", r, len(res), len(tc.rounds[r]))
				}
				errs := 0
				for i, m := range res {
					if m.ToolCallID != tc.rounds[r][i].ID {
						t.Errorf("round %d result %d answers %q, want %q", r, i, m.ToolCallID, tc.rounds[r][i].ID)
					}
					if strings.HasPrefix(m.Content, "error: ") {
						errs++
					} else if !strings.Contains(m.Content, "[zoom]") {
						t.Errorf("round %d result %d: %q", r, i, m.Content)
					}
				}
				if errs != wantErrs {
					t.Errorf("round %d: %d error results, want %d: %v", r, errs, wantErrs, res)
				}
			}
			if last := reqs[len(reqs)-1].req; tc.wantNone != (last.ToolChoice == "none") {
				t.Errorf("last request tool_choice %v, want none: %v", last.ToolChoice, tc.wantNone)
			}
			var got []int
			for _, an := range anns {
				got = append(got, an.Step)
			}
			if !slices.Equal(got, tc.wantSteps) {
				t.Errorf("annotated steps %v, want %v", got, tc.wantSteps)
			}
			for k, v := range tc.wantRejected {
				if rep.Rejected[k] != v {
					t.Errorf("rejected %s = %d, want %d (all: %v)", k, rep.Rejected[k], v, rep.Rejected)
				}
			}
		})
	}
}

// TestZoomCached: a rerun of an agentic batch is answered from the cache,
// tool rounds included, with the same annotations.
func TestZoomCached(t *testing.T) {
	trajs := hopperTrajs(t, 4)
	ep := trajs[0].ID
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		if round(q) == 0 {
			replyTools(w, showCall("c1", zoomTool, window(ep, 0, 3)))
			return
		}
		reply(w, answerJSON(item{ep, 2, "zoomed", []float64{0, 0, 0}, 0.5}))
	})
	cfg := testConfig(srv.URL)
	cfg.Mode, cfg.CacheDir = ModeAgentic, t.TempDir()
	var runs [2][]int
	for i := range runs {
		anns, rep, err := annotate(t, newAdvisor(t, cfg, nil), cloneTrajs(trajs))
		if err != nil {
			t.Fatal(err)
		}
		for _, an := range anns {
			runs[i] = append(runs[i], an.Step)
		}
		if i == 1 && (rep.CacheHits != 2 || rep.Requests != 0) {
			t.Errorf("rerun: %d cache hits, %d requests; want 2 and 0", rep.CacheHits, rep.Requests)
		}
	}
	if srv.count() != 2 || !slices.Equal(runs[0], []int{2}) || !slices.Equal(runs[1], runs[0]) {
		t.Errorf("server saw %d requests; steps %v then %v", srv.count(), runs[0], runs[1])
	}
}

// TestAgenticCannotBeBatched: the Batch API holds one request per batch.
func TestAgenticCannotBeBatched(t *testing.T) {
	cfg := testConfig("http://unused")
	cfg.Mode = ModeAgentic
	a := newAdvisor(t, cfg, nil)
	var sb strings.Builder
	if _, err := a.ExportBatch(hopperTrajs(t, 2), &sb); err == nil || !strings.Contains(err.Error(), "agentic") {
		t.Errorf("err = %v", err)
	}
}
