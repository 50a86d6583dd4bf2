package experiment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/advisor/expert"
	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/advisor/random"
	"github.com/ultra-rl/ultra/engine/advisor/scripted"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// AdvisorNames are the advisors NewAdvisor builds. "random-scripted",
// "random-llm" and "random-expert" have the named advisor judge random
// states (the identification ablation).
var AdvisorNames = []string{"llm", "scripted", "expert", "random", "random-scripted", "random-llm", "random-expert"}

// AdvisorConfig chooses and configures an advisor.
type AdvisorConfig struct {
	// Name is llm, scripted, expert or random.
	Name string
	// PerEpisode bounds the critical steps per episode (scripted, random).
	PerEpisode int
	// Seed seeds the random advisor.
	Seed uint64
	// LLM configures the llm advisor (endpoint, model, limits, prompts).
	// An empty AuditLog or CacheDir takes the default the caller passes
	// to NewAdvisor.
	LLM llm.Config
	// BatchImport, for llm, is a file of OpenAI Batch API output lines
	// answering the requests ExportBatch wrote: Annotate reads the answers
	// from it instead of sending requests.
	BatchImport string
	// Expert, for expert, is the checkpoint of the stronger policy that
	// answers (the same task).
	Expert string
}

// Validate checks the advisor's name and its sizes.
func (ac AdvisorConfig) Validate() error {
	if judge, ok := strings.CutPrefix(ac.Name, "random-"); ok {
		if judge != "scripted" && judge != "llm" && judge != expert.Name {
			return fmt.Errorf("advisor %s: random states are judged by scripted, llm or expert, not %q", ac.Name, judge)
		}
		if ac.PerEpisode < 1 {
			return fmt.Errorf("advisor %s: critical steps per episode = %d, want ≥ 1", ac.Name, ac.PerEpisode)
		}
		ac.Name = judge
		return ac.Validate()
	}
	switch ac.Name {
	case "scripted", "random":
		if ac.PerEpisode < 1 {
			return fmt.Errorf("advisor %s: critical steps per episode = %d, want ≥ 1", ac.Name, ac.PerEpisode)
		}
	case expert.Name:
		if ac.PerEpisode < 1 {
			return fmt.Errorf("advisor %s: critical steps per episode = %d, want ≥ 1", ac.Name, ac.PerEpisode)
		}
		if ac.Expert == "" {
			return errors.New("the expert advisor needs the expert's checkpoint (--expert CHECKPOINT: a stronger policy of the same task, e.g. the sub-optimal agent continued to 1M steps, bash bench/expert.sh TASK)")
		}
	case "llm":
		if strings.TrimSpace(ac.LLM.Model) == "" {
			return errors.New("the llm advisor needs a model: --model NAME (or $ULTRA_LLM_MODEL)")
		}
		if ac.LLM.BaseURL == "" && ac.BatchImport == "" {
			return errors.New("the llm advisor needs an endpoint: --llm-url URL (or $ULTRA_LLM_URL, e.g. http://localhost:8000/v1); reading --batch-import answers needs none")
		}
	default:
		return fmt.Errorf("unknown advisor %q: valid advisors are %s", ac.Name, strings.Join(AdvisorNames, ", "))
	}
	return nil
}

// NewAdvisor builds the advisor ac names for spec. For llm, audit and cache
// are the audit log and cache directory used when ac.LLM leaves them
// empty, log receives its warnings, and met (when not nil) each request.
func NewAdvisor(ac AdvisorConfig, spec env.Spec, audit, cache string, log io.Writer, met *metrics.Metrics) (advisor.Advisor, error) {
	if judgeName, ok := strings.CutPrefix(ac.Name, "random-"); ok {
		jc := ac
		jc.Name = judgeName
		j, err := NewAdvisor(jc, spec, audit, cache, log, met)
		if err != nil {
			return nil, err
		}
		judge, ok := j.(advisor.StepAnnotator)
		if !ok {
			return nil, fmt.Errorf("advisor %s cannot judge given states", judgeName)
		}
		return random.NewStates(judge, ac.PerEpisode, ac.Seed)
	}
	switch ac.Name {
	case "scripted":
		cfg := scripted.DefaultConfig()
		cfg.MaxCritical = ac.PerEpisode
		return scripted.New(spec, cfg)
	case "random":
		return random.New(spec, ac.PerEpisode, ac.Seed)
	case expert.Name:
		ck, err := ppo.LoadCheckpoint(ac.Expert)
		if err != nil {
			return nil, fmt.Errorf("the expert advisor's checkpoint: %w", err)
		}
		cfg := expert.DefaultConfig()
		cfg.MaxCritical = ac.PerEpisode
		return expert.New(spec, ck, cfg)
	case "llm":
		if err := ac.Validate(); err != nil {
			return nil, err
		}
		cfg := ac.LLM
		if cfg.AuditLog == "" {
			cfg.AuditLog = audit
		}
		if cfg.CacheDir == "" {
			cfg.CacheDir = cache
		}
		build := llm.New
		if ac.BatchImport != "" { // reads answers, sends nothing: no key
			build = llm.NewForBatch
			if cfg.BaseURL == "" {
				cfg.BaseURL = llm.DefaultConfig().BaseURL // not used, and not part of the requests' identity
			}
		}
		a, err := build(cfg, spec, slog.New(slog.NewTextHandler(log, nil)))
		if err != nil {
			return nil, err
		}
		if met != nil {
			a.ObserveRequests(met.AdvisorRequest)
		}
		return a, nil
	}
	return nil, fmt.Errorf("unknown advisor %q: valid advisors are %s", ac.Name, strings.Join(AdvisorNames, ", "))
}

// ExportBatch writes the requests the llm advisor ac would send for trajs
// as OpenAI Batch API input lines to path (atomically) and returns how
// many it wrote.
func ExportBatch(trajs []traj.Trajectory, spec env.Spec, ac AdvisorConfig, path string, log io.Writer) (int, error) {
	a, err := batchAdvisor(ac, spec, log)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	n, err := a.ExportBatch(trajs, &buf)
	if err != nil {
		return 0, err
	}
	return n, atomicfile.Write(path, buf.Bytes())
}

func batchAdvisor(ac AdvisorConfig, spec env.Spec, log io.Writer) (*llm.Advisor, error) {
	if ac.Name != "llm" {
		return nil, fmt.Errorf("batch files are for the llm advisor, not %s", ac.Name)
	}
	cfg := ac.LLM
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("batch requests name the model: give --model NAME (or $ULTRA_LLM_MODEL); no endpoint is needed")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = llm.DefaultConfig().BaseURL // not written into the requests
	}
	return llm.NewForBatch(cfg, spec, slog.New(slog.NewTextHandler(log, nil)))
}
