package llm

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Model = "gpt-4o-mini"
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults with a model: %v", err)
	}
	if err := DefaultConfig().Validate(); err == nil || !strings.Contains(err.Error(), "model is empty") {
		t.Errorf("no model: %v", err)
	}
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.BaseURL = "" }, "base_url is empty"},
		{func(c *Config) { c.BaseURL = "localhost:8000" }, "not an http(s) URL"},
		{func(c *Config) { c.Temperature = -0.1 }, "temperature"},
		{func(c *Config) { c.MaxTokens = 0 }, "max_tokens"},
		{func(c *Config) { c.APIKeyEnv = "" }, "api_key_env"},
		{func(c *Config) { c.Timeout = 0 }, "timeout"},
		{func(c *Config) { c.MaxRetries = -1 }, "max_retries"},
		{func(c *Config) { c.BackoffMax = c.BackoffBase / 2 }, "backoff_base"},
		{func(c *Config) { c.Concurrency = 0 }, "concurrency"},
		{func(c *Config) { c.RequestsPerMinute = -1 }, "requests_per_minute"},
		{func(c *Config) { c.BudgetTokens = -5 }, "budget_tokens"},
		{func(c *Config) { c.Mode = "double" }, `mode "double"`},
		{func(c *Config) { c.PromptDir = "/no/such/dir" }, "prompt_dir"},
		{func(c *Config) { c.TrajectoriesPerRequest = 0 }, "trajectories_per_request"},
		{func(c *Config) { c.SummaryTokens = 0 }, "summary_tokens"},
		{func(c *Config) { c.MaxCritical = 0 }, "max_critical"},
		{func(c *Config) { c.MaxResponseBytes = 10 }, "max_response_bytes"},
	} {
		c := good
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error mentioning %q, got %v", tc.want, err)
		}
		if _, err := New(c, hopper(t), nil); err == nil {
			t.Errorf("New accepted a config without %q", tc.want)
		}
	}
}

func TestAPIKeySources(t *testing.T) {
	c := DefaultConfig()
	t.Setenv("ULTRA_LLM_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "sk-openai")
	if k, _ := c.apiKey(); k != "sk-openai" {
		t.Errorf("fallback: %q", k)
	}
	t.Setenv("ULTRA_LLM_API_KEY", "sk-ultra")
	if k, _ := c.apiKey(); k != "sk-ultra" {
		t.Errorf("primary: %q", k)
	}
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte("sk-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.APIKeyFile = f
	if k, _ := c.apiKey(); k != "sk-file" {
		t.Errorf("file: %q", k)
	}
	c.APIKeyFile = f + ".missing"
	if _, err := c.apiKey(); err == nil {
		t.Error("missing key file accepted")
	}
}

// TestRequestRateLimit: at 1 request a minute the second batch waits.
func TestRequestRateLimit(t *testing.T) {
	trajs := hopperTrajs(t, 2)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	cfg.TrajectoriesPerRequest = 1
	cfg.RequestsPerMinute = 1
	a := newAdvisor(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	anns, _, err := a.Annotate(ctx, trajs)
	if !errors.Is(err, context.DeadlineExceeded) || len(anns) != 1 || srv.count() != 1 {
		t.Errorf("err %v, %d annotations, %d requests", err, len(anns), srv.count())
	}
}

// TestTokenRateLimit: a 100-token-a-minute limit holds back a request
// estimated at over 100 tokens once the bucket is spent.
func TestTokenRateLimit(t *testing.T) {
	trajs := hopperTrajs(t, 2)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	cfg.TrajectoriesPerRequest = 1
	cfg.TokensPerMinute = 100
	a := newAdvisor(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	anns, _, err := a.Annotate(ctx, trajs)
	if !errors.Is(err, context.DeadlineExceeded) || len(anns) != 1 || srv.count() != 1 {
		t.Errorf("err %v, %d annotations, %d requests", err, len(anns), srv.count())
	}
}
