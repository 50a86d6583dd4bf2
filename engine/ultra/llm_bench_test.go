package ultra

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// BenchmarkAsyncStageLLM trains with the real llm advisor talking to an
// in-process OpenAI-compatible server that takes 2 s per answer, against
// training without any advisor, alternating, and reports the SPS ratio.
func BenchmarkAsyncStageLLM(b *testing.B) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"b","object":"chat.completion","model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"{\"annotations\": []}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":10,"total_tokens":1010}}`)
	}))
	defer srv.Close()
	spec, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	mk := func() advisor.Advisor {
		cfg := llm.DefaultConfig()
		cfg.BaseURL, cfg.Model, cfg.Timeout = srv.URL+"/v1", "bench", 10*time.Second
		a, err := llm.New(cfg, spec, nil)
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	var with, without float64
	for i := 0; i < b.N; i++ {
		without += trainSPSWith(b, func() advisor.Advisor { return nil })
		with += trainSPSWith(b, mk)
	}
	b.ReportMetric(with/float64(b.N), "sps_with_llm_stage")
	b.ReportMetric(without/float64(b.N), "sps_without")
	b.ReportMetric(with/without, "ratio")
	b.ReportMetric(float64(requests.Load())/float64(b.N), "llm_requests/op")
}
