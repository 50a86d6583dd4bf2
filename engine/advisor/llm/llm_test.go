package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

func TestGoodAnswer(t *testing.T) {
	trajs := hopperTrajs(t, 4)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	a := newAdvisor(t, cfg, nil)
	if a.Name() != "llm" {
		t.Errorf("Name() = %q", a.Name())
	}
	anns, rep, err := annotate(t, a, trajs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 1 || srv.count() != 1 || rep.Trajectories != 4 || rep.Failed != 0 {
		t.Errorf("report %+v, server saw %d", rep, srv.count())
	}
	if rep.PromptTokens != 100 || rep.CompletionTokens != 50 {
		t.Errorf("usage %d/%d, want 100/50", rep.PromptTokens, rep.CompletionTokens)
	}
	if len(anns) != 4 || rep.Annotations != 4 || len(rep.Rejected) != 0 {
		t.Fatalf("%d annotations, report %+v", len(anns), rep)
	}
	byID := map[string]*traj.Trajectory{}
	for i := range trajs {
		byID[trajs[i].ID] = &trajs[i]
	}
	for _, an := range anns {
		tr := byID[an.Episode]
		if tr == nil {
			t.Fatalf("annotation of unknown episode %q", an.Episode)
		}
		if an.Step != shown(t, cfg, tr)[1] || an.Reward != -0.5 || an.Source != "llm:test-model" || an.Reason == "" {
			t.Errorf("annotation %+v", an)
		}
		if !slices.Equal(an.Action, []float32{0.5, -0.25, 0}) {
			t.Errorf("action %v", an.Action)
		}
		if !slices.Equal(an.Obs, tr.ObsAt(an.Step)) || !slices.Equal(an.Snapshot, tr.Snapshots[an.Step]) {
			t.Errorf("obs/snapshot of %s step %d not copied from the trajectory", an.Episode, an.Step)
		}
	}

	// What went over the wire.
	q := srv.requests()[0]
	if q.auth != "Bearer "+testKey {
		t.Errorf("Authorization %q", q.auth)
	}
	if q.req.Model != "test-model" || q.req.MaxTokens != 1500 || q.req.Temperature != 0.2 {
		t.Errorf("model %q max_tokens %d temperature %v", q.req.Model, q.req.MaxTokens, q.req.Temperature)
	}
	if q.req.ResponseFormat == nil || q.req.ResponseFormat.Type != "json_object" {
		t.Errorf("response_format %+v", q.req.ResponseFormat)
	}
	if len(q.req.Messages) != 2 || q.req.Messages[0].Role != "system" || q.req.Messages[1].Role != "user" {
		t.Fatalf("messages %+v", q.req.Messages)
	}
	sys, user := q.req.Messages[0].Content, q.req.Messages[1].Content
	for _, want := range []string{"action[0] in [-1, 1]", "action[2] in [-1, 1]", "Box(3, [-1, 1])", "critical states", "implicit reward"} {
		if !strings.Contains(sys, want) {
			t.Errorf("system prompt lacks %q", want)
		}
	}
	for i := range trajs {
		steps := shown(t, cfg, &trajs[i])
		list := make([]string, len(steps))
		for j, s := range steps {
			list[j] = fmt.Sprint(s)
		}
		if !strings.Contains(user, "Steps you may cite for this episode: "+strings.Join(list, ", ")) {
			t.Errorf("user prompt lacks the step list of %s", trajs[i].ID)
		}
	}
	if !strings.Contains(user, `"annotations"`) || !strings.Contains(user, "At most 5 annotations per episode") {
		t.Error("user prompt lacks the output schema")
	}
	// Episodes appear from the highest to the lowest return.
	sorted := slices.Clone(trajs)
	slices.SortFunc(sorted, func(x, y traj.Trajectory) int {
		switch {
		case x.Return > y.Return:
			return -1
		case x.Return < y.Return:
			return 1
		}
		return 0
	})
	last := -1
	for _, tr := range sorted {
		i := strings.Index(user, `## Episode "`+tr.ID+`"`)
		if i <= last {
			t.Errorf("episode %s out of order", tr.ID)
		}
		last = i
	}
}

func TestAnswerShapes(t *testing.T) {
	trajs := hopperTrajs(t, 2)
	cfg := testConfig("http://unused")
	s0, s1 := shown(t, cfg, &trajs[0])[1], shown(t, cfg, &trajs[1])[2]
	good := answerJSON(item{"ep00", s0, "r", []float64{0, 0, 0}, 0.1}, item{"ep01", s1, "r", []float64{1, 1, 1}, -0.1})
	arr := good[len(`{"annotations":`) : len(good)-1]
	one, _ := json.Marshal(item{"ep00", s0, "r", []float64{0, 0, 0}, 0.1})
	for _, tc := range []struct {
		name   string
		answer string
		want   int
		failed int
		reject string
	}{
		{"plain", good, 2, 0, ""},
		{"prose around", "Sure! Here is my analysis.\nStep [3] matters.\n" + good + "\nHope this helps {really}.", 2, 0, ""},
		{"json fence", "Analysis first.\n```json\n" + good + "\n```\nDone.", 2, 0, ""},
		{"bare fence", "```\n" + good + "\n```", 2, 0, ""},
		{"fence with decoy before", "Consider [1, 2].\n```json\n" + good + "\n```", 2, 0, ""},
		{"unterminated fence", "```json\n" + good, 2, 0, ""},
		{"top-level array", arr, 2, 0, ""},
		{"array in prose", "The annotations: " + arr + " — end.", 2, 0, ""},
		{"single object", "Answer: " + string(one), 1, 0, ""},
		{"no json", "I think step 3 was bad.", 0, 1, rejNoJSON},
		{"broken json", `{"annotations": [{"episode": "ep00", "step": }]}`, 0, 1, rejNoJSON},
		{"empty", "", 0, 1, rejNoJSON},
		{"no annotations field", `{"thoughts": "none"}`, 0, 1, rejNoAnnotations},
		{"empty list", `{"annotations": []}`, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) { reply(w, tc.answer) })
			c := cfg
			c.BaseURL = srv.URL + "/v1"
			a := newAdvisor(t, c, nil)
			anns, rep, err := annotate(t, a, trajs)
			if err != nil {
				t.Fatal(err)
			}
			if len(anns) != tc.want || rep.Failed != tc.failed {
				t.Errorf("%d annotations, %d failed; want %d, %d (rejected %v)", len(anns), rep.Failed, tc.want, tc.failed, rep.Rejected)
			}
			if tc.reject != "" && rep.Rejected[tc.reject] != 1 {
				t.Errorf("rejected %v, want one %s", rep.Rejected, tc.reject)
			}
		})
	}
}

// TestBadBatchLosesOnlyItself: two batches, one answered with garbage.
func TestBadBatchLosesOnlyItself(t *testing.T) {
	trajs := hopperTrajs(t, 4)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		if strings.Contains(q.user(), `"ep00"`) {
			reply(w, "no idea, sorry")
			return
		}
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	cfg.TrajectoriesPerRequest = 2
	a := newAdvisor(t, cfg, nil)
	anns, rep, err := annotate(t, a, trajs)
	if err != nil {
		t.Fatal(err)
	}
	if srv.count() != 2 || rep.Failed != 1 || len(anns) != 2 || rep.Rejected[rejNoJSON] != 1 {
		t.Fatalf("%d requests, %d annotations, report %+v", srv.count(), len(anns), rep)
	}
	for _, an := range anns {
		if an.Episode == "ep00" {
			t.Error("annotation from the failed batch")
		}
	}
}

func TestRetryAfter429(t *testing.T) {
	trajs := hopperTrajs(t, 1)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		if q.n == 0 {
			w.Header().Set("Retry-After", "1")
			apiError(w, http.StatusTooManyRequests, "slow down")
			return
		}
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	a := newAdvisor(t, cfg, nil)
	start := time.Now()
	anns, rep, err := annotate(t, a, trajs)
	el := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 1 || rep.Requests != 2 || srv.count() != 2 {
		t.Fatalf("%d annotations, report %+v", len(anns), rep)
	}
	if el < 950*time.Millisecond || el > 8*time.Second {
		t.Errorf("took %v; Retry-After said 1s (backoff alone is ≤5ms)", el)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, -1},
		{map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond},
		{map[string]string{"Retry-After": now.Add(7 * time.Second).Format(http.TimeFormat)}, 7 * time.Second},
		{map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{map[string]string{"Retry-After": "soon"}, -1},
		{map[string]string{"Retry-After": "-4"}, -1},
		{map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond},
	} {
		h := http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
		}
		if got := parseRetryAfter(h, now); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestRetries(t *testing.T) {
	trajs := hopperTrajs(t, 1)
	for _, tc := range []struct {
		name     string
		fail     int // leading failures
		status   int
		requests int
		ok       bool
	}{
		{"500s then success", 2, http.StatusInternalServerError, 3, true},
		{"502 then success", 1, http.StatusBadGateway, 2, true},
		{"503 without Retry-After", 1, http.StatusServiceUnavailable, 2, true},
		{"500s past max retries", 10, http.StatusInternalServerError, 4, false},
		{"400 is not retried", 10, http.StatusBadRequest, 1, false},
		{"401 is not retried", 10, http.StatusUnauthorized, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
				if q.n < tc.fail {
					apiError(w, tc.status, "boom")
					return
				}
				reply(w, goodAnswer(t, cfg, trajs, q))
			})
			cfg = testConfig(srv.URL)
			a := newAdvisor(t, cfg, nil)
			anns, rep, err := annotate(t, a, trajs)
			if srv.count() != tc.requests || rep.Requests != tc.requests {
				t.Errorf("%d requests (report %d), want %d", srv.count(), rep.Requests, tc.requests)
			}
			if tc.ok != (err == nil) || tc.ok != (len(anns) == 1) {
				t.Errorf("err %v, %d annotations", err, len(anns))
			}
			if !tc.ok && rep.Failed != 1 {
				t.Errorf("failed %d", rep.Failed)
			}
		})
	}
}

func TestTimeoutRetried(t *testing.T) {
	trajs := hopperTrajs(t, 1)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		if q.n == 0 {
			select { // hang far past the client's timeout
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	cfg.Timeout = 300 * time.Millisecond
	a := newAdvisor(t, cfg, nil)
	start := time.Now()
	anns, rep, err := annotate(t, a, trajs)
	el := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 1 || srv.count() != 2 || rep.Requests != 2 {
		t.Errorf("%d annotations, %d requests", len(anns), srv.count())
	}
	if el < 300*time.Millisecond || el > 8*time.Second {
		t.Errorf("took %v with a 300ms timeout", el)
	}
}

func TestHugeAnswer(t *testing.T) {
	trajs := hopperTrajs(t, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		// A valid completion whose content is 5 MB, streamed in chunks.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"`))
		chunk := []byte(strings.Repeat("a", 64<<10))
		for range 80 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`))
	})
	cfg := testConfig(srv.URL)
	cfg.MaxResponseBytes = 256 << 10
	a := newAdvisor(t, cfg, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	anns, rep, err := annotate(t, a, trajs)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "max_response_bytes") {
		t.Fatalf("err %v", err)
	}
	if len(anns) != 0 || rep.Failed != 1 || srv.count() != 1 {
		t.Errorf("%d annotations, report %+v, %d requests (a too-large answer is not retried)", len(anns), rep, srv.count())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("allocated %d bytes reading a 5 MB answer capped at 256 KiB", alloc)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	trajs := hopperTrajs(t, 8)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		time.Sleep(100 * time.Millisecond)
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	cfg.Concurrency = 2
	cfg.TrajectoriesPerRequest = 1
	a := newAdvisor(t, cfg, nil)
	anns, _, err := annotate(t, a, trajs)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 8 || srv.count() != 8 {
		t.Fatalf("%d annotations, %d requests", len(anns), srv.count())
	}
	if p := srv.peak.Load(); p != 2 {
		t.Errorf("peak in flight %d, want exactly the limit 2", p)
	}
}

func TestCacheHitOnRerun(t *testing.T) {
	for _, mode := range []string{ModeSingle, ModeThree} {
		t.Run(mode, func(t *testing.T) {
			trajs := hopperTrajs(t, 4)
			var cfg Config
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
				reply(w, goodAnswer(t, cfg, trajs, q))
			})
			cfg = testConfig(srv.URL)
			cfg.Mode = mode
			cfg.TrajectoriesPerRequest = 2
			cfg.CacheDir = t.TempDir()
			perBatch := map[string]int{ModeSingle: 1, ModeThree: 3}[mode]

			anns1, rep1, err := annotate(t, newAdvisor(t, cfg, nil), trajs)
			if err != nil {
				t.Fatal(err)
			}
			n := srv.count()
			if n != 2*perBatch || rep1.CacheHits != 0 {
				t.Fatalf("first run: %d requests, %d hits", n, rep1.CacheHits)
			}
			// A fresh advisor (a new process) reads the same cache.
			anns2, rep2, err := annotate(t, newAdvisor(t, cfg, nil), trajs)
			if err != nil {
				t.Fatal(err)
			}
			if srv.count() != n || rep2.Requests != 0 || rep2.CacheHits != 2*perBatch {
				t.Errorf("rerun: %d new requests, report %+v", srv.count()-n, rep2)
			}
			if rep2.PromptTokens != 0 {
				t.Errorf("a cache hit spent %d tokens", rep2.PromptTokens)
			}
			sortAnns(anns1)
			sortAnns(anns2)
			a, _ := json.Marshal(anns1)
			b, _ := json.Marshal(anns2)
			if string(a) != string(b) || len(anns1) != 4 {
				t.Errorf("rerun annotations differ:\n%s\n%s", a, b)
			}
			// A different temperature is a different key.
			c := cfg
			c.Temperature = 0.7
			if _, _, err := annotate(t, newAdvisor(t, c, nil), trajs); err != nil {
				t.Fatal(err)
			}
			if srv.count() != 2*n {
				t.Errorf("changed temperature: %d requests, want %d", srv.count(), 2*n)
			}
		})
	}
}

func sortAnns(a []advisor.Annotation) {
	slices.SortFunc(a, func(x, y advisor.Annotation) int { return strings.Compare(x.Episode, y.Episode) })
}

func TestBudget(t *testing.T) {
	for _, tc := range []struct {
		name             string
		requests, tokens int
		want             int // requests the server sees
	}{
		{"requests", 2, 0, 2},
		{"tokens", 0, 250, 2}, // 150 tokens per answer: 150, 300 ≥ 250
	} {
		t.Run(tc.name, func(t *testing.T) {
			trajs := hopperTrajs(t, 4)
			var cfg Config
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
				reply(w, goodAnswer(t, cfg, trajs, q))
			})
			cfg = testConfig(srv.URL)
			cfg.TrajectoriesPerRequest = 1
			cfg.Concurrency = 1
			cfg.BudgetRequests, cfg.BudgetTokens = tc.requests, tc.tokens
			a := newAdvisor(t, cfg, nil)
			anns, rep, err := annotate(t, a, trajs)
			if !errors.Is(err, advisor.ErrBudget) {
				t.Fatalf("err %v, want ErrBudget", err)
			}
			if srv.count() != tc.want || len(anns) != tc.want || !rep.BudgetExhausted || rep.Failed != 4-tc.want {
				t.Errorf("%d requests, %d annotations, report %+v", srv.count(), len(anns), rep)
			}
			anns, rep, err = annotate(t, a, trajs)
			if err != advisor.ErrBudget || len(anns) != 0 || !rep.BudgetExhausted || rep.Requests != 0 {
				t.Errorf("after the budget: err %v, %d annotations, report %+v", err, len(anns), rep)
			}
			if srv.count() != tc.want {
				t.Errorf("requests after the budget: %d", srv.count()-tc.want)
			}
		})
	}
}

func TestAPIKeyNeverLeaks(t *testing.T) {
	trajs := hopperTrajs(t, 4)
	var cfg Config
	var sawKey atomic.Bool
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		sawKey.Store(strings.Contains(q.auth, testKey))
		switch {
		case strings.Contains(q.user(), `"ep00"`): // echo the key in a non-retried error
			apiError(w, http.StatusUnauthorized, "invalid key "+q.auth)
		case q.n < 3: // and in retried ones
			apiError(w, http.StatusInternalServerError, "upstream rejected "+q.auth)
		default: // and in an answer
			ans := goodAnswer(t, cfg, trajs, q)
			reply(w, strings.Replace(ans, "the thigh", "key "+testKey+" says the thigh", 1))
		}
	})
	cfg = testConfig(srv.URL)
	cfg.TrajectoriesPerRequest = 2
	cfg.Concurrency = 1
	cfg.CacheDir = t.TempDir()
	cfg.AuditLog = filepath.Join(t.TempDir(), "audit", "llm.jsonl")
	logger, logs := captureLogs()
	a := newAdvisor(t, cfg, logger)
	anns, _, err := annotate(t, a, trajs)
	if !sawKey.Load() {
		t.Fatal("the server never received the key: the test proves nothing")
	}
	if err == nil {
		t.Fatal("want the ep00 batch's 401 as an error")
	}
	if len(anns) != 2 {
		t.Errorf("%d annotations from the good batch", len(anns))
	}
	check := func(where, text string) {
		t.Helper()
		if strings.Contains(text, testKey) || strings.Contains(text, "SECRET123") {
			t.Errorf("the API key leaked into %s", where)
		}
	}
	check("the error", err.Error())
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("error %q: want the echoed key redacted", err)
	}
	check("the logs", logs.String())
	if !strings.Contains(logs.String(), "retrying") {
		t.Error("no retry was logged")
	}
	audit, rerr := os.ReadFile(cfg.AuditLog)
	if rerr != nil {
		t.Fatal(rerr)
	}
	check("the audit log", string(audit))
	lines := strings.Split(strings.TrimSpace(string(audit)), "\n")
	if len(lines) != srv.count() {
		t.Errorf("%d audit lines for %d requests", len(lines), srv.count())
	}
	for _, l := range lines {
		var rec auditRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.RequestID == "" || len(rec.Messages) != 2 || (rec.Answer == "") == (rec.Error == "") {
			t.Errorf("audit line %.200s: %v", l, err)
		}
	}
	files := 0
	_ = filepath.WalkDir(cfg.CacheDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
			b, _ := os.ReadFile(p)
			check("the cache", string(b))
		}
		return nil
	})
	if files != 1 {
		t.Errorf("%d cache files, want 1", files)
	}
	for _, an := range anns {
		check("an annotation", an.Reason)
	}
}

func TestThreeMode(t *testing.T) {
	trajs := hopperTrajs(t, 4)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		good := goodAnswer(t, cfg, trajs, q)
		var ans string
		switch u := q.user(); {
		case strings.Contains(u, "Step 1 of 3"):
			ans = strings.ReplaceAll(good, `"annotations"`, `"critical"`) + " " // identify
		case strings.Contains(u, "Step 2 of 3"):
			ans = "```json\n" + good + "\n```" // suggest
		case strings.Contains(u, "Step 3 of 3"):
			ans = good
		default:
			t.Errorf("unexpected prompt %.100s", u)
		}
		reply(w, ans)
	})
	cfg = testConfig(srv.URL)
	cfg.Mode = ModeThree
	cfg.TrajectoriesPerRequest = 2
	cfg.Concurrency = 1
	a := newAdvisor(t, cfg, nil)
	anns, rep, err := annotate(t, a, trajs)
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 6 || rep.Requests != 6 || len(anns) != 4 {
		t.Fatalf("%d requests, %d annotations, report %+v", len(reqs), len(anns), rep)
	}
	// Per batch (grouped by the first user message, which shows its
	// episodes): 3 requests, each later one carrying the earlier answers as
	// assistant turns.
	batches := map[string][]request{}
	for _, q := range reqs {
		batches[q.req.Messages[1].Content] = append(batches[q.req.Messages[1].Content], q)
	}
	if len(batches) != 2 {
		t.Fatalf("%d batches", len(batches))
	}
	for _, b := range batches {
		slices.SortFunc(b, func(x, y request) int { return len(x.req.Messages) - len(y.req.Messages) })
		r1, r2, r3 := b[0], b[1], b[2]
		if len(b) != 3 || len(r1.req.Messages) != 2 || len(r2.req.Messages) != 4 || len(r3.req.Messages) != 6 {
			t.Fatalf("batch message counts %d %d %d", len(r1.req.Messages), len(r2.req.Messages), len(r3.req.Messages))
		}
		a1 := strings.ReplaceAll(goodAnswer(t, cfg, trajs, r1), `"annotations"`, `"critical"`) + " "
		if got := r2.req.Messages[2]; got.Role != "assistant" || got.Content != a1 {
			t.Errorf("the suggest prompt does not carry the identify answer: %q", got.Content)
		}
		if !strings.Contains(r2.user(), "Step 2 of 3") || !strings.Contains(r3.user(), "Step 3 of 3") {
			t.Error("steps out of order")
		}
		if got := r3.req.Messages[4]; got.Role != "assistant" || !strings.HasPrefix(got.Content, "```json") {
			t.Errorf("the reward prompt does not carry the suggest answer: %q", got.Content)
		}
		if r3.req.Messages[2].Content != a1 || r3.req.Messages[1].Content != r1.req.Messages[1].Content {
			t.Error("the reward prompt lost the earlier turns")
		}
	}
}

func TestThreeModeStopsOnNonJSON(t *testing.T) {
	trajs := hopperTrajs(t, 2)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) { reply(w, "I refuse.") })
	cfg := testConfig(srv.URL)
	cfg.Mode = ModeThree
	a := newAdvisor(t, cfg, nil)
	anns, rep, err := annotate(t, a, trajs)
	if err != nil || len(anns) != 0 || rep.Failed != 1 || srv.count() != 1 || rep.Rejected[rejNoJSON] != 1 {
		t.Errorf("err %v, %d annotations, %d requests, report %+v", err, len(anns), srv.count(), rep)
	}
}

func TestJSONModeFallback(t *testing.T) {
	trajs := hopperTrajs(t, 1)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		if q.req.ResponseFormat != nil {
			apiError(w, http.StatusBadRequest, "Unsupported parameter: 'response_format'")
			return
		}
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	cfg.MaxRetries = 0 // the fallback is not a retry
	a := newAdvisor(t, cfg, nil)
	anns, _, err := annotate(t, a, trajs)
	if err != nil || len(anns) != 1 || srv.count() != 2 {
		t.Fatalf("err %v, %d annotations, %d requests", err, len(anns), srv.count())
	}
	// Remembered: the next call goes straight without response_format.
	if _, _, err := annotate(t, a, trajs); err != nil || srv.count() != 3 {
		t.Errorf("err %v, %d requests, want 3", err, srv.count())
	}
	if strings.Contains(string(srv.requests()[2].raw), "response_format") {
		t.Error("response_format sent again")
	}
}

func TestCancel(t *testing.T) {
	trajs := hopperTrajs(t, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		<-r.Context().Done()
	})
	cfg := testConfig(srv.URL)
	a := newAdvisor(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := a.Annotate(ctx, trajs)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}

func TestInvalidTrajectoriesSkipped(t *testing.T) {
	trajs := hopperTrajs(t, 3)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	a := newAdvisor(t, cfg, nil)
	trajs[1].Env = "walker2d"
	trajs = append(trajs, trajs[0]) // duplicate id
	anns, rep, err := annotate(t, a, trajs)
	if err == nil || !strings.Contains(err.Error(), "walker2d") || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("err %v", err)
	}
	if rep.Trajectories != 2 || len(anns) != 2 {
		t.Errorf("%d trajectories, %d annotations", rep.Trajectories, len(anns))
	}
}

func TestDeal(t *testing.T) {
	var trajs []*traj.Trajectory
	for i := range 10 {
		trajs = append(trajs, &traj.Trajectory{ID: fmt.Sprint(i), Return: float64(i)})
	}
	b := deal(trajs, 4)
	if len(b) != 3 {
		t.Fatalf("%d batches", len(b))
	}
	ids := func(ts []*traj.Trajectory) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.ID)
		}
		return strings.Join(s, ",")
	}
	// Every batch spans high to low returns.
	for i, want := range []string{"9,6,3,0", "8,5,2", "7,4,1"} {
		if got := ids(b[i]); got != want {
			t.Errorf("batch %d: %s, want %s", i, got, want)
		}
	}
	if deal(nil, 4) != nil {
		t.Error("batches of nothing")
	}
}

func TestPromptOverride(t *testing.T) {
	trajs := hopperTrajs(t, 1)
	dir := t.TempDir()
	custom := `CUSTOM {{.Task}} {{range .Episodes}}{{.ID}}:{{.StepList}}{{end}} {{template "schema.tmpl" .}}`
	if err := os.WriteFile(filepath.Join(dir, "single.tmpl"), []byte(custom), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	cfg.PromptDir = dir
	a := newAdvisor(t, cfg, nil)
	anns, _, err := annotate(t, a, trajs)
	if err != nil || len(anns) != 1 {
		t.Fatalf("err %v, %d annotations", err, len(anns))
	}
	if u := srv.requests()[0].user(); !strings.HasPrefix(u, "CUSTOM hopper ep00:0, ") {
		t.Errorf("user prompt %.80q", u)
	}

	for name, content := range map[string]string{
		"single.tmpl": "{{.NoSuchField}}",
		"system.tmpl": "{{if}}",
		"singel.tmpl": "typo in the name",
	} {
		d := t.TempDir()
		_ = os.WriteFile(filepath.Join(d, name), []byte(content), 0o644)
		c := cfg
		c.PromptDir = d
		if _, err := New(c, hopper(t), nil); err == nil {
			t.Errorf("override %s %q: New accepted it", name, content)
		}
	}
}

func TestReasoningModelParams(t *testing.T) {
	trajs := hopperTrajs(t, 1)
	var cfg Config
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		reply(w, goodAnswer(t, cfg, trajs, q))
	})
	cfg = testConfig(srv.URL)
	cfg.Model = "o3-mini"
	a := newAdvisor(t, cfg, nil)
	anns, _, err := annotate(t, a, trajs)
	if err != nil || len(anns) != 1 || anns[0].Source != "llm:o3-mini" {
		t.Fatalf("err %v, %v", err, anns)
	}
	q := srv.requests()[0].req
	if q.MaxTokens != 0 || q.MaxCompletionTokens != 1500 || q.Temperature != 0 {
		t.Errorf("max_tokens %d max_completion_tokens %d temperature %v", q.MaxTokens, q.MaxCompletionTokens, q.Temperature)
	}
}

func TestRequestObserverSeesEveryOutcome(t *testing.T) {
	trajs := hopperTrajs(t, 2)
	var cfg Config
	calls := 0
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "0")
			apiError(w, http.StatusTooManyRequests, "slow down")
			return
		}
		replyUsage(w, goodAnswer(t, cfg, trajs, q), 321, 12)
	})
	cfg = testConfig(srv.URL)
	cfg.TrajectoriesPerRequest = 2
	cfg.CacheDir = t.TempDir()
	var mu sync.Mutex
	var seen []string
	tokens := 0
	observe := func(outcome string, _ time.Duration, p, c int) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, outcome)
		tokens += p + c
	}
	a := newAdvisor(t, cfg, nil)
	a.ObserveRequests(observe)
	if _, _, err := annotate(t, a, trajs); err != nil {
		t.Fatal(err)
	}
	b := newAdvisor(t, cfg, nil)
	b.ObserveRequests(observe)
	if _, _, err := annotate(t, b, trajs); err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "rate_limited,ok,cache_hit" || tokens != 333 {
		t.Fatalf("outcomes %v, tokens %d", seen, tokens)
	}
}

// TestBudgetDoesNotDependOnConcurrency covers issue 14's finding 11: with
// four requests in flight, a 200-token budget spent 600, because each
// request checked the budget before any had booked its usage. Requests in
// flight now reserve their estimate, so the spend is what it is at
// concurrency 1.
func TestBudgetDoesNotDependOnConcurrency(t *testing.T) {
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			trajs := hopperTrajs(t, 4)
			var cfg Config
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
				time.Sleep(20 * time.Millisecond) // let the others arrive
				reply(w, goodAnswer(t, cfg, trajs, q))
			})
			cfg = testConfig(srv.URL)
			cfg.TrajectoriesPerRequest, cfg.Concurrency, cfg.BudgetTokens = 1, conc, 200
			a := newAdvisor(t, cfg, nil)
			_, rep, err := annotate(t, a, trajs)
			if !errors.Is(err, advisor.ErrBudget) {
				t.Fatalf("err %v, want ErrBudget", err)
			}
			// 150 tokens per answer: the first leaves 150 < 200, the
			// second reaches 300 and nothing more starts.
			if srv.count() != 2 || rep.PromptTokens+rep.CompletionTokens != 300 {
				t.Errorf("%d requests spent %d tokens; want 2 spending 300", srv.count(), rep.PromptTokens+rep.CompletionTokens)
			}
		})
	}
}

// TestImpossibleUsageIsAProtocolError covers finding 11's wrapped token
// counters: negative or absurd usage figures are replaced by estimates,
// counted as bad_usage, and the budget keeps working.
func TestImpossibleUsageIsAProtocolError(t *testing.T) {
	for _, tc := range []struct {
		name               string
		prompt, completion int
	}{
		{"negative", -4_000_000_000, 50},
		{"absurd", 100, 4_000_000_000},
		{"both", -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trajs := hopperTrajs(t, 4)
			var cfg Config
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
				replyUsage(w, goodAnswer(t, cfg, trajs, q), tc.prompt, tc.completion)
			})
			cfg = testConfig(srv.URL)
			cfg.TrajectoriesPerRequest, cfg.Concurrency, cfg.BudgetTokens = 1, 1, 300
			a := newAdvisor(t, cfg, nil)
			_, rep, err := annotate(t, a, trajs)
			if rep.Rejected[rejBadUsage] != srv.count() || srv.count() == 0 {
				t.Errorf("bad_usage %d for %d answers", rep.Rejected[rejBadUsage], srv.count())
			}
			if rep.PromptTokens <= 0 || rep.CompletionTokens <= 0 || a.tokens <= 0 {
				t.Errorf("booked %d + %d tokens (lifetime %d): want positive estimates", rep.PromptTokens, rep.CompletionTokens, a.tokens)
			}
			// At least 150 tokens are booked per answer: the 300-token
			// budget stops the run before the fourth request.
			if !errors.Is(err, advisor.ErrBudget) || srv.count() >= 4 {
				t.Errorf("err %v after %d requests: the budget must still hold", err, srv.count())
			}
		})
	}
}

// TestDeadlineBoundsAnnotate covers finding 11's silent server: a deadline
// ends the whole call, whatever the per-request timeout and retries.
func TestDeadlineBoundsAnnotate(t *testing.T) {
	trajs := hopperTrajs(t, 4)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		<-r.Context().Done() // never answers
	})
	cfg := testConfig(srv.URL)
	cfg.Timeout, cfg.MaxRetries, cfg.Deadline = time.Minute, 5, 300*time.Millisecond
	a := newAdvisor(t, cfg, nil)
	start := time.Now()
	anns, _, err := a.Annotate(context.Background(), trajs)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "deadline of 300ms passed") {
		t.Fatalf("err %v, want the deadline named", err)
	}
	if len(anns) != 0 {
		t.Errorf("%d annotations from a silent server", len(anns))
	}
	// Generous: it must not wait out the 60 s request timeout.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestShortKeysAreNotRedacted covers finding 13: a one-character key made
// every copy of that character "[REDACTED]".
func TestShortKeysAreNotRedacted(t *testing.T) {
	for _, tc := range []struct{ key, in, want string }{
		{"a", "a bad answer", "a bad answer"},
		{"sk-1234", "key sk-1234", "key sk-1234"},
		{"sk-12345678", "key sk-12345678 leaked", "key [REDACTED] leaked"},
	} {
		a := &Advisor{key: tc.key}
		if got := a.scrub(tc.in); got != tc.want {
			t.Errorf("key %q: scrub(%q) = %q, want %q", tc.key, tc.in, got, tc.want)
		}
	}
}

// TestAnnotateSteps: asked about given steps (the identification
// ablation), the advisor shows them, hands the model the identification
// as its own first answer, asks only for suggestions and rewards (two
// requests per batch), and keeps annotations of the given steps only.
func TestAnnotateSteps(t *testing.T) {
	trajs := hopperTrajs(t, 2)
	steps := [][]int{{3, 17}, {9}}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		msgs := q.req.Messages
		if len(msgs) < 4 || msgs[2].Role != openai.ChatMessageRoleAssistant || !strings.Contains(msgs[2].Content, `"critical"`) {
			apiError(w, http.StatusBadRequest, "no identification answer before the request")
			return
		}
		for _, want := range []string{"step 3:", "step 17:", "step 9:"} {
			if !strings.Contains(msgs[1].Content, want) {
				apiError(w, http.StatusBadRequest, "the episodes do not show "+want)
				return
			}
		}
		// Annotate a given step and one that was not asked about.
		reply(w, answerJSON(item{"ep00", 17, "r", []float64{0.1, 0.1, 0.1}, 0.3}, item{"ep01", 9, "r", []float64{0, 0, 0}, -0.2},
			item{"ep00", 0, "r", []float64{0, 0, 0}, 0.9}))
	})
	cfg := testConfig(srv.URL)
	cfg.TrajectoriesPerRequest = 2
	a := newAdvisor(t, cfg, nil)
	anns, rep, err := a.AnnotateSteps(context.Background(), trajs, steps)
	if err != nil {
		t.Fatal(err)
	}
	if srv.count() != 2 {
		t.Errorf("%d requests, want 2 (suggest and reward)", srv.count())
	}
	if len(anns) != 2 || rep.Rejected[rejNotAsked] != 1 {
		t.Fatalf("annotations %+v, rejected %v", anns, rep.Rejected)
	}
	for _, an := range anns {
		if !(an.Episode == "ep00" && an.Step == 17 || an.Episode == "ep01" && an.Step == 9) {
			t.Errorf("annotation of %s step %d, not a given step", an.Episode, an.Step)
		}
	}
}

// TestUnusableAnswerIsNotCached: an answer the parser cannot use (prose, no
// JSON) is not cached, so a rerun (or --force) asks again instead of
// replaying it (issue 27, item 13); a usable one is cached as before.
func TestUnusableAnswerIsNotCached(t *testing.T) {
	for _, mode := range []string{ModeSingle, ModeThree} {
		t.Run(mode, func(t *testing.T) {
			trajs := hopperTrajs(t, 2)
			var cfg Config
			good := false
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
				if good {
					reply(w, goodAnswer(t, cfg, trajs, q))
					return
				}
				reply(w, "I cannot help with that.")
			})
			cfg = testConfig(srv.URL)
			cfg.Mode = mode
			cfg.CacheDir = t.TempDir()
			anns, rep, _ := annotate(t, newAdvisor(t, cfg, nil), trajs)
			if len(anns) != 0 || rep.Failed == 0 {
				t.Fatalf("prose gave %d annotations, report %+v", len(anns), rep)
			}
			n := srv.count()
			good = true
			anns, rep, err := annotate(t, newAdvisor(t, cfg, nil), trajs)
			if err != nil || len(anns) == 0 || rep.CacheHits != 0 || srv.count() == n {
				t.Errorf("rerun after an unusable answer: %d annotations, %d cache hits, %d new requests, %v", len(anns), rep.CacheHits, srv.count()-n, err)
			}
		})
	}
}

// TestRefusedConnectionFailsFast: an endpoint that refuses the connection
// before any request was answered is one quick error naming the address,
// not six retries per batch; one that answered once is retried as before
// (issue 30, rough edge 14).
func TestRefusedConnectionFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		apiError(w, http.StatusInternalServerError, "down")
	})
	for _, tc := range []struct {
		name, url   string
		unreachable bool
	}{
		{"refused", refused, true},
		{"answers 500", srv.URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(tc.url)
			cfg.MaxRetries, cfg.BackoffBase, cfg.BackoffMax = 5, 200*time.Millisecond, 200*time.Millisecond
			logger, logs := captureLogs()
			a := newAdvisor(t, cfg, logger)
			start := time.Now()
			_, _, err := annotate(t, a, hopperTrajs(t, 8))
			took := time.Since(start)
			if err == nil || errors.Is(err, ErrUnreachable) != tc.unreachable {
				t.Fatalf("err %v, want unreachable %v", err, tc.unreachable)
			}
			if tc.unreachable {
				if took > time.Second || strings.Count(err.Error(), "connection refused") != 1 || !strings.Contains(err.Error(), "nothing listens at "+refused+"/v1") ||
					strings.Contains(logs.String(), "retrying") {
					t.Errorf("took %v, err %v, logs:\n%s", took, err, logs)
				}
			} else if !strings.Contains(logs.String(), "retrying") {
				t.Errorf("a server that answers was not retried: %v", err)
			}
		})
	}
}

// TestNewForBatchReadsNoKey: an advisor that only handles Batch API
// files says nothing about an API key (issue 30, rough edge 13).
func TestNewForBatchReadsNoKey(t *testing.T) {
	t.Setenv("ULTRA_LLM_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "")
	for _, tc := range []struct {
		name  string
		build func(Config, env.Spec, *slog.Logger) (*Advisor, error)
		say   bool
	}{{"New", New, true}, {"NewForBatch", NewForBatch, false}} {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := captureLogs()
			if _, err := tc.build(testConfig("http://127.0.0.1:1"), hopper(t), logger); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "no API key found"); got != tc.say {
				t.Errorf("mentions the key: %v, want %v:\n%s", got, tc.say, logs)
			}
		})
	}
}
