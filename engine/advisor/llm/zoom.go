package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/interpret"
)

// The zoom tool of ModeAgentic.
const (
	zoomTool = "show_steps"
	// Rejection kinds of tool calls, counted in advisor.Report.Rejected;
	// the model is told the error in the tool's answer.
	rejToolBadCall   = "tool_bad_call"   // not show_steps, or arguments that are not {episode, from, to} integers
	rejToolBadWindow = "tool_bad_window" // an unknown episode, a window outside it or longer than ToolSteps
	rejToolTooMany   = "tool_over_limit" // a call beyond MaxToolCalls
)

// zoomDefinition is the show_steps function as the model sees it.
func (a *Advisor) zoomDefinition() openai.Tool {
	params := json.RawMessage(fmt.Sprintf(`{"type": "object", "properties": {`+
		`"episode": {"type": "string", "description": "the episode id, as in the prompt"}, `+
		`"from": {"type": "integer", "description": "first step of the window (0-based)"}, `+
		`"to": {"type": "integer", "description": "last step of the window, inclusive; at most %d steps per call"}}, `+
		`"required": ["episode", "from", "to"], "additionalProperties": false}`, a.cfg.ToolSteps))
	return openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
		Name: zoomTool,
		Description: fmt.Sprintf("Show steps from..to of an episode at full resolution (every step, the same line format as the summaries), at most %d steps per call and %d calls in all. Steps shown this way may be cited.",
			a.cfg.ToolSteps, a.cfg.MaxToolCalls),
		Parameters: params,
	}}
}

// toolsFor returns the tools and tool choice of a request in ModeAgentic:
// show_steps while calls remain, else the same tool with tool_choice
// "none" (the conversation holds tool calls, so the tool stays defined).
func (a *Advisor) toolsFor(callsLeft bool) ([]openai.Tool, any) {
	if a.cfg.Mode != ModeAgentic {
		return nil, nil
	}
	if callsLeft {
		return []openai.Tool{a.zoomDefinition()}, nil
	}
	return []openai.Tool{a.zoomDefinition()}, "none"
}

// zoomArgs are show_steps's arguments.
type zoomArgs struct {
	Episode *string  `json:"episode"`
	From    *float64 `json:"from"`
	To      *float64 `json:"to"`
}

// agentic runs one batch's single request with the zoom tool: it answers
// each show_steps call (marking the steps shown as citable in eps) and
// asks again, until the model answers without a call. Calls beyond
// MaxToolCalls are answered with an error, and from then on the tool is
// offered with tool_choice "none"; a model that still calls it fails the
// batch after one more request. Every request is booked as any other.
func (a *Advisor) agentic(ctx context.Context, batchID string, msgs []openai.ChatCompletionMessage, eps map[string]*shownEpisode, rep *advisor.Report) (string, error) {
	calls := 0
	for round := 0; ; round++ {
		left := calls < a.cfg.MaxToolCalls
		tools, choice := a.toolsFor(left)
		m, err := a.callMsg(ctx, batchID, fmt.Sprintf("single-%d", round), msgs, tools, choice, rep)
		if err != nil {
			return "", err
		}
		if len(m.ToolCalls) == 0 {
			return m.Content, nil
		}
		if !left {
			return "", fmt.Errorf("the model called %s again after its %d calls were spent and tool_choice was none", zoomTool, a.cfg.MaxToolCalls)
		}
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: m.Content, ToolCalls: m.ToolCalls})
		for _, tc := range m.ToolCalls {
			calls++
			var out string
			if calls > a.cfg.MaxToolCalls {
				rep.Reject(rejToolTooMany)
				out = fmt.Sprintf("error: the limit of %d %s calls per request is reached; answer now, citing only steps already shown", a.cfg.MaxToolCalls, zoomTool)
			} else {
				out = a.zoom(tc, eps, rep)
			}
			msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, Content: out, ToolCallID: tc.ID, Name: zoomTool})
		}
	}
}

// zoom answers one tool call: the window's lines, or an error for the
// model naming what was wrong.
func (a *Advisor) zoom(tc openai.ToolCall, eps map[string]*shownEpisode, rep *advisor.Report) string {
	bad := func(kind, format string, args ...any) string {
		rep.Reject(kind)
		return "error: " + fmt.Sprintf(format, args...)
	}
	if tc.Function.Name != zoomTool {
		return bad(rejToolBadCall, "there is no tool %q; the only tool is %s(episode, from, to)", truncate(tc.Function.Name, 60), zoomTool)
	}
	var z zoomArgs
	dec := json.NewDecoder(bytes.NewReader([]byte(tc.Function.Arguments)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&z); err != nil || z.Episode == nil || z.From == nil || z.To == nil {
		return bad(rejToolBadCall, `arguments must be a JSON object {"episode": "<id>", "from": <integer>, "to": <integer>}, got %q`, truncate(tc.Function.Arguments, 200))
	}
	from, to := *z.From, *z.To
	if from != math.Trunc(from) || to != math.Trunc(to) || math.Abs(from) > 1e9 || math.Abs(to) > 1e9 {
		return bad(rejToolBadCall, "from and to must be integers, got %v and %v", from, to)
	}
	e, ok := eps[*z.Episode]
	if !ok {
		ids := make([]string, 0, len(eps))
		for id := range eps {
			ids = append(ids, fmt.Sprintf("%q", id))
		}
		return bad(rejToolBadWindow, "unknown episode %q; the episodes are %s", truncate(*z.Episode, 60), strings.Join(sorted(ids), ", "))
	}
	text, steps, err := interpret.ShowSteps(a.spec, e.traj, int(from), int(to), 1, a.cfg.ToolSteps, "zoom")
	if err != nil {
		return bad(rejToolBadWindow, "%s", strings.TrimPrefix(err.Error(), "interpret: "))
	}
	for _, k := range steps {
		e.shown[k] = true
	}
	return fmt.Sprintf("Episode %q, steps %d-%d (all citable now):\n%s", *z.Episode, int(from), int(to), strings.TrimRight(text, "\n"))
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// errAgenticBatch is returned by batch export in ModeAgentic.
var errAgenticBatch = errors.New("llm: batch files hold one request per batch: set mode single (mode agentic needs each tool answer before its next request)")
