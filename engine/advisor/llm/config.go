package llm

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/interpret"
)

// DefaultSummaryTokens is the default per-episode summary budget, chosen by
// the cost table in docs/ultra.md (LLM section, bench/prompt-coverage.sh):
// about 27 000 prompt tokens per request of 4 episodes and 108 000 per
// annotate of 16 hopper episodes, about US$0.33 on gpt-4o and US$0.02 on
// gpt-4o-mini at the list prices assumed there.
const DefaultSummaryTokens = 6000

// Modes of the multi-step reasoning.
const (
	// ModeSingle asks for all three steps (identify, suggest, reward) in one
	// request.
	ModeSingle = "single"
	// ModeThree makes three requests per batch, identify → suggest → reward,
	// each one continuing the conversation with the previous answer.
	ModeThree = "three"
	// ModeAgentic is ModeSingle with a zoom tool: the model may call
	// show_steps(episode, from, to) to read a window at full resolution
	// before it answers (at most MaxToolCalls calls of at most ToolSteps
	// steps per request; every round trip is a request against the
	// budget). Zoomed steps become citable.
	ModeAgentic = "agentic"
)

// Config configures the llm advisor. The zero value is not usable: start
// from [DefaultConfig].
type Config struct {
	// BaseURL of the OpenAI-compatible API, including the version prefix,
	// e.g. "https://api.openai.com/v1" or "http://localhost:8000/v1".
	BaseURL string `yaml:"base_url"`
	// Model name sent with every request; annotations carry "llm:<Model>".
	Model string `yaml:"model"`
	// Temperature of sampling. Note that OpenAI-style APIs treat an omitted
	// temperature as their default (usually 1), and 0 is omitted on the wire
	// by the client library: use a small positive value for near-greedy.
	Temperature float64 `yaml:"temperature"`
	// MaxTokens caps the length of each answer (max_tokens, or
	// max_completion_tokens for reasoning models).
	MaxTokens int `yaml:"max_tokens"`
	// JSONMode asks for response_format {"type": "json_object"}. A server that
	// answers 400 mentioning response_format is retried once without it, and
	// the advisor remembers not to send it again.
	JSONMode bool `yaml:"json_mode"`

	// APIKeyEnv names the environment variable holding the API key;
	// OPENAI_API_KEY is tried after it. APIKeyFile, when set, wins over both.
	// An empty key is allowed (local servers often need none). The key is
	// never logged, written to the audit log or cache, or left in an error.
	APIKeyEnv  string `yaml:"api_key_env"`
	APIKeyFile string `yaml:"api_key_file"`

	// Timeout bounds each HTTP request (one attempt); timeouts are retried.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries is the number of retries after the first attempt for
	// network errors, timeouts, 429 and 5xx answers.
	MaxRetries int `yaml:"max_retries"`
	// BackoffBase and BackoffMax shape the exponential backoff with full
	// jitter: retry n waits uniformly in [0, min(BackoffMax, BackoffBase·2ⁿ)].
	// A Retry-After header on 429/503 is honoured instead (up to
	// MaxRetryAfter).
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// MaxRetryAfter caps how long a Retry-After header may make us wait.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`

	// Concurrency is the most requests in flight at once.
	Concurrency int `yaml:"concurrency"`
	// RequestsPerMinute and TokensPerMinute rate-limit requests with token
	// buckets (0 = unlimited). A request reserves its estimated prompt
	// tokens plus MaxTokens, corrected by the usage the server reports.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	TokensPerMinute   int `yaml:"tokens_per_minute"`
	// BudgetRequests and BudgetTokens cap the advisor's lifetime spending
	// (0 = unlimited). Every HTTP attempt counts as a request; tokens are
	// prompt plus completion tokens reported by the server. Once a budget is
	// reached Annotate returns advisor.ErrBudget and makes no more requests.
	// A request starts only while the tokens spent plus the estimates of
	// the requests in flight (prompt plus MaxTokens) are under
	// BudgetTokens, so concurrency does not raise the spend: the last
	// request may overshoot by its own size, as at concurrency 1.
	BudgetRequests int `yaml:"budget_requests"`
	BudgetTokens   int `yaml:"budget_tokens"`
	// Deadline bounds one Annotate call as a whole — every batch, retry,
	// backoff and rate-limit wait (0 = none). When it passes, Annotate
	// returns what was annotated with an error saying so; answered batches
	// stay in the cache, so a rerun repeats only the rest.
	Deadline time.Duration `yaml:"deadline"`

	// Mode is ModeSingle, ModeThree or ModeAgentic.
	Mode string `yaml:"mode"`
	// MaxToolCalls is the most show_steps calls one request may make in
	// ModeAgentic; later calls are answered with an error and the model
	// is asked for its answer without tools.
	MaxToolCalls int `yaml:"max_tool_calls"`
	// ToolSteps is the most steps one show_steps call may return.
	ToolSteps int `yaml:"tool_steps"`
	// PromptDir optionally holds templates overriding the embedded ones by
	// file name (system.tmpl, background.tmpl, single.tmpl, identify.tmpl,
	// suggest.tmpl, reward.tmpl, schema.tmpl, episodes.tmpl).
	PromptDir string `yaml:"prompt_dir"`
	// CacheDir, when set, holds a content-addressed cache of answers.
	CacheDir string `yaml:"cache_dir"`
	// AuditLog, when set, receives one JSON line per request, cache hit or
	// failure.
	AuditLog string `yaml:"audit_log"`

	// TrajectoriesPerRequest is how many episodes one prompt shows. Episodes
	// are dealt so each batch spans high- and low-return episodes, which the
	// case analysis contrasts.
	TrajectoriesPerRequest int `yaml:"trajectories_per_request"`
	// SummaryTokens is the estimated token budget of each episode's summary.
	SummaryTokens int `yaml:"summary_tokens"`
	// Summary is the summaries' resolution: "multi" (dense steps before a
	// failure, a medium stride before that, physics events and a sparse
	// stride, each step tagged with why) or "stride" (every k-th step plus
	// the last 10 before a termination: the summary before issue 19).
	Summary string `yaml:"summary"`
	// Contrast shows, next to each failed episode in the lower half of a
	// batch by return, the batch's best episode over the same steps as the
	// failure window (every ContrastEvery-th step), so the case analysis
	// compares like with like. Those steps of the best episode become
	// citable.
	Contrast bool `yaml:"contrast"`
	// ContrastEvery is the stride of a contrast window.
	ContrastEvery int `yaml:"contrast_every"`
	// MaxCritical is the most annotations kept per episode.
	MaxCritical int `yaml:"max_critical"`
	// MaxResponseBytes caps the HTTP body read from the server; a longer
	// answer fails the batch without being buffered whole.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
}

// DefaultConfig returns the defaults: temperature 0.2, 1500-token answers,
// JSON mode, 60 s per request, 5 retries with 1 s–30 s backoff, 4 requests
// in flight, single-request mode, 4 episodes per prompt, 5 critical states
// per episode, 5 minutes for a whole Annotate call (the default job, 16
// episodes in 4 batches, makes one wave of requests; a server that never
// answers would otherwise cost 6 attempts × 60 s and the backoff between
// them). BaseURL defaults to OpenAI's; Model must be chosen.
func DefaultConfig() Config {
	return Config{
		BaseURL:                "https://api.openai.com/v1",
		Temperature:            0.2,
		MaxTokens:              1500,
		JSONMode:               true,
		APIKeyEnv:              "ULTRA_LLM_API_KEY",
		Timeout:                60 * time.Second,
		MaxRetries:             5,
		BackoffBase:            time.Second,
		BackoffMax:             30 * time.Second,
		MaxRetryAfter:          5 * time.Minute,
		Deadline:               5 * time.Minute,
		Concurrency:            4,
		Mode:                   ModeSingle,
		TrajectoriesPerRequest: 4,
		SummaryTokens:          DefaultSummaryTokens,
		Summary:                interpret.ResolutionMulti,
		Contrast:               true,
		ContrastEvery:          3,
		MaxToolCalls:           4,
		ToolSteps:              60,
		MaxCritical:            5,
		MaxResponseBytes:       2 << 20,
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.BaseURL == "" {
		bad("llm: base_url is empty (e.g. https://api.openai.com/v1)")
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("llm: base_url %q is not an http(s) URL", c.BaseURL)
	}
	if strings.TrimSpace(c.Model) == "" {
		bad("llm: model is empty (the model name the endpoint serves, e.g. gpt-4o-mini)")
	}
	if c.Temperature < 0 || c.Temperature > 2 {
		bad("llm: temperature %g is outside [0, 2]", c.Temperature)
	}
	if c.MaxTokens <= 0 {
		bad("llm: max_tokens %d must be positive", c.MaxTokens)
	}
	if c.APIKeyEnv == "" && c.APIKeyFile == "" {
		bad("llm: set api_key_env (default ULTRA_LLM_API_KEY) or api_key_file")
	}
	if c.Timeout <= 0 {
		bad("llm: timeout %v must be positive", c.Timeout)
	}
	if c.MaxRetries < 0 {
		bad("llm: max_retries %d must be >= 0", c.MaxRetries)
	}
	if c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase {
		bad("llm: need 0 < backoff_base (%v) <= backoff_max (%v)", c.BackoffBase, c.BackoffMax)
	}
	if c.MaxRetryAfter < 0 {
		bad("llm: max_retry_after %v must be >= 0", c.MaxRetryAfter)
	}
	if c.Deadline < 0 {
		bad("llm: deadline %v must be >= 0 (0 = none)", c.Deadline)
	}
	if c.Concurrency <= 0 {
		bad("llm: concurrency %d must be positive", c.Concurrency)
	}
	if c.RequestsPerMinute < 0 || c.TokensPerMinute < 0 {
		bad("llm: requests_per_minute and tokens_per_minute must be >= 0 (0 = unlimited)")
	}
	if c.BudgetRequests < 0 || c.BudgetTokens < 0 {
		bad("llm: budget_requests and budget_tokens must be >= 0 (0 = unlimited)")
	}
	if c.Mode != ModeSingle && c.Mode != ModeThree && c.Mode != ModeAgentic {
		bad("llm: mode %q must be %q, %q or %q", c.Mode, ModeSingle, ModeThree, ModeAgentic)
	}
	if c.Summary != interpret.ResolutionMulti && c.Summary != interpret.ResolutionStride {
		bad("llm: summary %q must be %q or %q", c.Summary, interpret.ResolutionMulti, interpret.ResolutionStride)
	}
	if c.ContrastEvery <= 0 {
		bad("llm: contrast_every %d must be positive", c.ContrastEvery)
	}
	if c.MaxToolCalls < 0 {
		bad("llm: max_tool_calls %d must be >= 0", c.MaxToolCalls)
	}
	if c.ToolSteps <= 0 {
		bad("llm: tool_steps %d must be positive", c.ToolSteps)
	}
	if c.PromptDir != "" {
		if st, err := os.Stat(c.PromptDir); err != nil || !st.IsDir() {
			bad("llm: prompt_dir %q is not a readable directory", c.PromptDir)
		}
	}
	if c.TrajectoriesPerRequest <= 0 {
		bad("llm: trajectories_per_request %d must be positive", c.TrajectoriesPerRequest)
	}
	if c.SummaryTokens <= 0 {
		bad("llm: summary_tokens %d must be positive", c.SummaryTokens)
	}
	if c.MaxCritical <= 0 {
		bad("llm: max_critical %d must be positive", c.MaxCritical)
	}
	if c.MaxResponseBytes < 1024 {
		bad("llm: max_response_bytes %d must be at least 1024", c.MaxResponseBytes)
	}
	return errors.Join(errs...)
}

// apiKey reads the key: APIKeyFile, then $APIKeyEnv, then $OPENAI_API_KEY.
func (c Config) apiKey() (string, error) {
	if c.APIKeyFile != "" {
		b, err := os.ReadFile(c.APIKeyFile)
		if err != nil {
			// The error names the path, never the content.
			return "", fmt.Errorf("llm: reading api_key_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	for _, name := range []string{c.APIKeyEnv, "OPENAI_API_KEY"} {
		if name == "" {
			continue
		}
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return v, nil
		}
	}
	return "", nil
}
