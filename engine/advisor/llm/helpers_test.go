package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

const testKey = "sk-test-SECRET123"

func hopper(t testing.TB) env.Spec {
	t.Helper()
	s, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	trajOnce  sync.Once
	trajCache []traj.Trajectory
	trajErr   error
)

// hopperTrajs steps the real hopper with random actions of increasing
// scale, n episodes of at most 40 steps, with snapshots. Returns differ.
// The result is shared: callers must not modify it (use cloneTrajs).
func hopperTrajs(t testing.TB, n int) []traj.Trajectory {
	t.Helper()
	trajOnce.Do(func() {
		spec := hopper(t)
		e, err := spec.New(env.DefaultOptions())
		if err != nil {
			trajErr = err
			return
		}
		defer e.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 16 {
			tr := traj.Trajectory{ID: fmt.Sprintf("ep%02d", i), Env: spec.ID, ObsDim: spec.Observation.Dim, ActDim: spec.Action.Dim}
			obs := make([]float32, spec.Observation.Dim)
			e.Reset(rng, obs)
			scale := 0.1 + 0.06*float32(i)
			for k := 0; k < 40; k++ {
				act := make([]float32, spec.Action.Dim)
				for j := range act {
					act[j] = scale * (2*rng.Float32() - 1)
				}
				tr.Obs = append(tr.Obs, obs...)
				tr.Actions = append(tr.Actions, act...)
				tr.Snapshots = append(tr.Snapshots, e.Snapshot(nil))
				r, term, err := e.Step(act, obs)
				if err != nil {
					trajErr = err
					return
				}
				tr.Rewards = append(tr.Rewards, float32(r))
				tr.Return += r
				if term {
					tr.Terminated = true
					break
				}
			}
			tr.Truncated = !tr.Terminated
			trajCache = append(trajCache, tr)
		}
	})
	if trajErr != nil {
		t.Fatal(trajErr)
	}
	if n > len(trajCache) {
		t.Fatalf("at most %d trajectories", len(trajCache))
	}
	return cloneTrajs(trajCache[:n])
}

func cloneTrajs(in []traj.Trajectory) []traj.Trajectory {
	out := make([]traj.Trajectory, len(in))
	copy(out, in)
	return out
}

// testConfig is fast: tiny backoffs. The timeout is generous so a loaded
// machine does not turn into a retry; the timeout test sets its own.
func testConfig(url string) Config {
	c := DefaultConfig()
	c.BaseURL = url + "/v1"
	c.Model = "test-model"
	c.Timeout = 15 * time.Second
	c.MaxRetries = 3
	c.BackoffBase = time.Millisecond
	c.BackoffMax = 5 * time.Millisecond
	c.SummaryTokens = 600
	// The transport tests read the stride summary without contrasts
	// (shown); multi_test.go covers the multi-resolution prompts.
	c.Summary = interpret.ResolutionStride
	c.Contrast = false
	return c
}

// shown returns the steps the prompt shows for tr under cfg.
func shown(t testing.TB, cfg Config, tr *traj.Trajectory) []int {
	t.Helper()
	s, err := interpret.Summarize(hopper(t), tr, interpret.Budget{MaxTokens: cfg.SummaryTokens})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Steps) < 2 {
		t.Fatalf("%s shows %v", tr.ID, s.Steps)
	}
	return s.Steps
}

// request is what the fake server saw.
type request struct {
	n    int // 0-based arrival order
	req  openai.ChatCompletionRequest
	raw  []byte
	auth string
}

// user returns the last user message.
func (r request) user() string {
	for i := len(r.req.Messages) - 1; i >= 0; i-- {
		if r.req.Messages[i].Role == openai.ChatMessageRoleUser {
			return r.req.Messages[i].Content
		}
	}
	return ""
}

// fakeServer is an OpenAI-compatible /v1/chat/completions programmed by
// handle. It counts requests and the most in flight at once.
type fakeServer struct {
	*httptest.Server
	handle func(w http.ResponseWriter, r *http.Request, q request)

	mu       sync.Mutex
	reqs     []request
	inflight atomic.Int32
	peak     atomic.Int32
}

func newServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, q request)) *fakeServer {
	t.Helper()
	s := &fakeServer{handle: handle}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		cur := s.inflight.Add(1)
		defer s.inflight.Add(-1)
		for {
			p := s.peak.Load()
			if cur <= p || s.peak.CompareAndSwap(p, cur) {
				break
			}
		}
		raw, _ := io.ReadAll(r.Body)
		var q request
		if err := json.Unmarshal(raw, &q.req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q.raw, q.auth = raw, r.Header.Get("Authorization")
		s.mu.Lock()
		q.n = len(s.reqs)
		s.reqs = append(s.reqs, q)
		s.mu.Unlock()
		s.handle(w, r, q)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fakeServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func (s *fakeServer) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// reply writes a chat completion with content and usage 100/50.
func reply(w http.ResponseWriter, content string) {
	replyUsage(w, content, 100, 50)
}

func replyUsage(w http.ResponseWriter, content string, prompt, completion int) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "model": "test-model",
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content}}},
		"usage": map[string]int{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
	})
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "test_error"}})
}

// item is one annotation of a test answer.
type item struct {
	Episode string    `json:"episode"`
	Step    int       `json:"step"`
	Reason  string    `json:"reason"`
	Action  []float64 `json:"action"`
	Reward  float64   `json:"reward"`
}

func answerJSON(items ...item) string {
	b, _ := json.Marshal(map[string]any{"annotations": items})
	return string(b)
}

// goodAnswer annotates, for every trajectory whose id the prompt shows, its
// second shown step with a fixed action and reward.
func goodAnswer(t testing.TB, cfg Config, trajs []traj.Trajectory, q request) string {
	var items []item
	prompt := q.user()
	for i := range trajs {
		tr := &trajs[i]
		if !strings.Contains(prompt, `"`+tr.ID+`"`) {
			continue
		}
		items = append(items, item{tr.ID, shown(t, cfg, tr)[1], "the thigh should push harder here", []float64{0.5, -0.25, 0}, -0.5})
	}
	return answerJSON(items...)
}

// newAdvisor builds an advisor with the test key in the environment.
func newAdvisor(t testing.TB, cfg Config, logger *slog.Logger) *Advisor {
	t.Helper()
	t.Setenv("ULTRA_LLM_API_KEY", testKey)
	a, err := New(cfg, hopper(t), logger)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// captureLogs returns a debug-level logger writing JSON into buf.
func captureLogs() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func annotate(t *testing.T, a *Advisor, trajs []traj.Trajectory) ([]advisor.Annotation, advisor.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	return a.Annotate(ctx, trajs)
}
