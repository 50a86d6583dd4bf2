package llm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// auditRecord is one line of the audit log: a request attempt, a cache hit
// or a failure, with everything sent and received (never the API key).
type auditRecord struct {
	Time       time.Time         `json:"time"`
	RequestID  string            `json:"request_id"`            // ours: <batch>-<step>-<attempt>
	ResponseID string            `json:"response_id,omitempty"` // the server's completion id
	Model      string            `json:"model"`
	Step       string            `json:"step"` // single, identify, suggest, reward
	Attempt    int               `json:"attempt"`
	JSONMode   bool              `json:"json_mode"`
	Messages   []message         `json:"messages"`
	Answer     string            `json:"answer,omitempty"`
	ToolCalls  []openai.ToolCall `json:"tool_calls,omitempty"` // ModeAgentic: the answer's show_steps calls
	Finish     string            `json:"finish_reason,omitempty"`
	Usage      usage             `json:"usage"`
	LatencyMS  float64           `json:"latency_ms"`
	CacheHit   bool              `json:"cache_hit"`
	Error      string            `json:"error,omitempty"`
}

type message struct {
	Role       string            `json:"role"`
	Content    string            `json:"content"`
	ToolCalls  []openai.ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string            `json:"tool_call_id,omitempty"`
}

// auditLog appends JSON lines to a file, one write per record under a
// mutex, opening the file per record so nothing stays open between calls.
type auditLog struct {
	path  string
	scrub func(string) string
	mu    sync.Mutex
}

func (l *auditLog) write(r auditRecord) error {
	if l == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append([]byte(l.scrub(string(b))), '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if dir := filepath.Dir(l.path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}
