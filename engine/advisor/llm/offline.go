package llm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// answerPlaceholder stands in, in a written three-step conversation, for
// the model's answer to the previous request, which offline there is none
// of.
const answerPlaceholder = "(the model's answer to the previous request goes here)"

// NewOffline returns an advisor that only renders requests (WritePrompts,
// ExportBatch): it reads no API key, and an empty base URL or model is
// allowed (the model is written as given, possibly empty). It never sends
// anything, so no cache or audit log is opened.
func NewOffline(cfg Config, spec env.Spec) (*Advisor, error) {
	c := cfg
	if c.BaseURL == "" {
		c.BaseURL = DefaultConfig().BaseURL
	}
	model := c.Model
	if strings.TrimSpace(c.Model) == "" {
		c.Model = "unset"
	}
	if c.APIKeyEnv == "" && c.APIKeyFile == "" {
		c.APIKeyEnv = DefaultConfig().APIKeyEnv
	}
	c.CacheDir, c.AuditLog = "", ""
	a, err := buildAdvisor(c, spec, nil, false)
	if err != nil {
		return nil, err
	}
	a.cfg.Model, a.source = model, "llm:"+model
	return a, nil
}

// PromptInfo describes one request WritePrompts wrote.
type PromptInfo struct {
	// Name is the files' base name: <batch>-<step> (.json and .txt).
	Name string `json:"name"`
	// Step is single, identify, suggest or reward.
	Step string `json:"step"`
	// Tokens is the prompt's estimated tokens (interpret.EstimateTokens of
	// every message), what a request reserves against the budget.
	Tokens int `json:"estimated_prompt_tokens"`
	// Citable are the steps the prompt lets the model cite, per episode.
	Citable map[string][]int `json:"citable"`
}

// promptFile is the JSON form of one written request.
type promptFile struct {
	// Request is the chat-completion body as it would be sent.
	Request openai.ChatCompletionRequest `json:"request"`
	// Settings are the advisor settings that shaped it.
	Settings map[string]any `json:"settings"`
	PromptInfo
	// Note explains placeholders, if any.
	Note string `json:"note,omitempty"`
}

// WritePrompts writes every request Annotate would send for trajs into
// dir, as <batch>-<step>.json (the request body, the settings and the
// citable steps) and <batch>-<step>.txt (the messages as plain text),
// sending nothing. In ModeThree the later requests hold a placeholder
// where the model's previous answer would be; in ModeAgentic the
// requests carry the show_steps tool, whose answers (and the follow-up
// requests they cause) exist only with a model. dir is created if needed.
// Trajectories are checked as ExportBatch checks them.
func (a *Advisor) WritePrompts(trajs []traj.Trajectory, dir string) ([]PromptInfo, error) {
	valid, err := a.checkTrajs(trajs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("llm: prompts directory: %w", err)
	}
	var out []PromptInfo
	for i, b := range deal(valid, a.cfg.TrajectoriesPerRequest) {
		bp, err := a.prepareBatch(i, b, nil)
		if err != nil {
			return nil, err
		}
		citable := map[string][]int{}
		for id, e := range bp.eps {
			ks := make([]int, 0, len(e.shown))
			for k := range e.shown {
				ks = append(ks, k)
			}
			sort.Ints(ks)
			citable[id] = ks
		}
		steps := []string{"single"}
		if a.cfg.Mode == ModeThree {
			steps = []string{"identify", "suggest", "reward"}
		}
		msgs := bp.msgs
		for j, step := range steps {
			user, err := a.tmpl.render(step+".tmpl", bp.data)
			if err != nil {
				return nil, err
			}
			note := ""
			if j > 0 {
				msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: answerPlaceholder})
				note = "the assistant message is a placeholder for the model's answer to the previous request"
			}
			msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: user})
			if a.cfg.Mode == ModeAgentic {
				note = "the model may call show_steps; each call's result and the follow-up request exist only with a model"
			}
			req := a.request(append([]openai.ChatCompletionMessage(nil), msgs...), a.cfg.JSONMode)
			req.Tools, req.ToolChoice = a.toolsFor(true)
			info := PromptInfo{Name: fmt.Sprintf("%s-%s", bp.id, step), Step: step, Tokens: promptTokens(msgs, req.Tools), Citable: citable}
			pf := promptFile{Request: req, Settings: a.settings(), PromptInfo: info, Note: note}
			js, err := json.MarshalIndent(pf, "", "  ")
			if err != nil {
				return nil, fmt.Errorf("llm: %s: %w", info.Name, err)
			}
			if err := atomicfile.Write(filepath.Join(dir, info.Name+".json"), append(js, '\n')); err != nil {
				return nil, fmt.Errorf("llm: %w", err)
			}
			if err := atomicfile.Write(filepath.Join(dir, info.Name+".txt"), []byte(a.plainText(req, info, note))); err != nil {
				return nil, fmt.Errorf("llm: %w", err)
			}
			out = append(out, info)
		}
	}
	return out, nil
}

// promptTokens is the estimate a request reserves for its prompt (as
// callMsg computes it: the messages, and the tool definitions if any).
func promptTokens(msgs []openai.ChatCompletionMessage, tools []openai.Tool) int {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	if len(tools) > 0 {
		def, _ := json.Marshal(tools)
		b.Write(def)
	}
	return interpret.EstimateTokens(b.String())
}

// settings are the advisor settings written with each prompt.
func (a *Advisor) settings() map[string]any {
	c := a.cfg
	s := map[string]any{
		"base_url": c.BaseURL, "model": c.Model, "mode": c.Mode, "temperature": c.Temperature,
		"max_tokens": c.MaxTokens, "json_mode": c.JSONMode, "summary": c.Summary,
		"summary_tokens": c.SummaryTokens, "contrast": c.Contrast, "contrast_every": c.ContrastEvery,
		"trajectories_per_request": c.TrajectoriesPerRequest, "max_critical": c.MaxCritical,
	}
	if c.Mode == ModeAgentic {
		s["max_tool_calls"], s["tool_steps"] = c.MaxToolCalls, c.ToolSteps
	}
	return s
}

// plainText renders a request for reading.
func (a *Advisor) plainText(req openai.ChatCompletionRequest, info PromptInfo, note string) string {
	var b strings.Builder
	keys := make([]string, 0)
	set := a.settings()
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "# request %s (estimated prompt tokens %d)\n", info.Name, info.Tokens)
	for _, k := range keys {
		fmt.Fprintf(&b, "# %s: %v\n", k, set[k])
	}
	if note != "" {
		fmt.Fprintf(&b, "# note: %s\n", note)
	}
	for _, t := range req.Tools {
		if t.Function != nil {
			fmt.Fprintf(&b, "# tool %s: %s\n", t.Function.Name, t.Function.Description)
		}
	}
	for _, m := range req.Messages {
		fmt.Fprintf(&b, "\n===== %s =====\n%s\n", m.Role, m.Content)
	}
	return b.String()
}

// checkTrajs returns the non-empty trajectories, failing on an invalid
// one or an empty or duplicate id.
func (a *Advisor) checkTrajs(trajs []traj.Trajectory) ([]*traj.Trajectory, error) {
	var valid []*traj.Trajectory
	ids := map[string]bool{}
	for i := range trajs {
		t := &trajs[i]
		if err := t.Validate(a.spec); err != nil {
			return nil, fmt.Errorf("llm: %w", err)
		}
		if t.ID == "" || ids[t.ID] {
			return nil, fmt.Errorf("llm: trajectory with empty or duplicate id %q", t.ID)
		}
		ids[t.ID] = true
		if t.Len() > 0 {
			valid = append(valid, t)
		}
	}
	return valid, nil
}
