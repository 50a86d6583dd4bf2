package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// cacheVersion is part of every key; bump it when the key or entry format
// changes.
const cacheVersion = "ultra-llm-cache-v1"

// usage is the token accounting of one answer.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

func (u usage) total() int { return u.PromptTokens + u.CompletionTokens }

// cacheEntry is what the cache stores per key: the raw answer and usage.
type cacheEntry struct {
	Version string    `json:"version"`
	Key     string    `json:"key"`
	Model   string    `json:"model"`
	Time    time.Time `json:"time"`
	Answer  string    `json:"answer"`
	// ToolCalls are the answer's show_steps calls (ModeAgentic).
	ToolCalls []openai.ToolCall `json:"tool_calls,omitempty"`
	Usage     usage             `json:"usage"`
}

// cacheKey is the SHA-256 of everything that determines the answer: base
// URL, model, temperature, answer length, JSON mode (as configured, so a
// JSON-mode fallback still hits on rerun) and the messages. The API key is
// not part of it.
func cacheKey(cfg *Config, msgs []openai.ChatCompletionMessage) string {
	return cacheKeyTools(cfg, msgs, nil, nil)
}

// cacheKeyTools is cacheKey for a request that may offer tools (ModeAgentic):
// the tools, the tool choice and the messages' tool calls are part of the
// key; without them the key is cacheKey's as before.
func cacheKeyTools(cfg *Config, msgs []openai.ChatCompletionMessage, tools []openai.Tool, choice any) string {
	type msg struct {
		Role       string            `json:"role"`
		Content    string            `json:"content"`
		ToolCalls  []openai.ToolCall `json:"tool_calls,omitempty"`
		ToolCallID string            `json:"tool_call_id,omitempty"`
	}
	k := struct {
		Version     string        `json:"v"`
		BaseURL     string        `json:"base_url"`
		Model       string        `json:"model"`
		Temperature float64       `json:"temperature"`
		MaxTokens   int           `json:"max_tokens"`
		JSONMode    bool          `json:"json_mode"`
		Messages    []msg         `json:"messages"`
		Tools       []openai.Tool `json:"tools,omitempty"`
		ToolChoice  any           `json:"tool_choice,omitempty"`
	}{cacheVersion, cfg.BaseURL, cfg.Model, cfg.Temperature, cfg.MaxTokens, cfg.JSONMode, nil, tools, choice}
	for _, m := range msgs {
		k.Messages = append(k.Messages, msg{m.Role, m.Content, m.ToolCalls, m.ToolCallID})
	}
	b, _ := json.Marshal(k) // cannot fail: plain strings and numbers
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// diskCache is a content-addressed answer cache under dir: key ab12… lives
// in dir/ab/ab12….json. Writes are atomic (temp file + rename), so
// concurrent writers and crashes leave either no entry or a whole one.
type diskCache struct {
	dir   string
	scrub func(string) string
	mu    sync.Mutex // serialises MkdirAll; reads and renames need no lock
}

func (c *diskCache) path(key string) string {
	return filepath.Join(c.dir, key[:2], key+".json")
}

// get returns the entry for key; a missing or unreadable entry is a miss
// (err is set for a corrupt one, so the caller can log it).
func (c *diskCache) get(key string) (cacheEntry, bool, error) {
	if c == nil {
		return cacheEntry{}, false, nil
	}
	b, err := os.ReadFile(c.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return cacheEntry{}, false, nil
	}
	if err != nil {
		return cacheEntry{}, false, err
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Version != cacheVersion || e.Key != key {
		return cacheEntry{}, false, fmt.Errorf("llm: corrupt cache entry %s", c.path(key))
	}
	return e, true, nil
}

// forget removes the entry for key, if any.
func (c *diskCache) forget(key string) error {
	if c == nil {
		return nil
	}
	if err := os.Remove(c.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// put stores e atomically.
func (c *diskCache) put(e cacheEntry) error {
	if c == nil {
		return nil
	}
	e.Version = cacheVersion
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	b = []byte(c.scrub(string(b)))
	p := c.path(e.Key)
	dir := filepath.Dir(p)
	c.mu.Lock()
	err = os.MkdirAll(dir, 0o755)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
