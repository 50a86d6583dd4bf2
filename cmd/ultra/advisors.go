package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/advisor/random"
	"github.com/ultra-rl/ultra/engine/advisor/scripted"
	"github.com/ultra-rl/ultra/engine/env"
)

func advisorNames() []string { return []string{"llm", "scripted", "random"} }

// newAdvisor builds the advisor the flags name; the returned func releases it.
// audit, when not empty, is the llm advisor's default audit log path.
func newAdvisor(af advisorFlags, spec env.Spec, stderr io.Writer) (advisor.Advisor, func(), error) {
	switch af.name {
	case "scripted":
		cfg := scripted.DefaultConfig()
		cfg.MaxCritical = af.perEpisode
		a, err := scripted.New(spec, cfg)
		return a, func() {}, err
	case "random":
		a, err := random.New(spec, af.perEpisode, af.seed)
		return a, func() {}, err
	case "llm":
		cfg, err := llmConfig(af)
		if err != nil {
			return nil, nil, err
		}
		a, err := llm.New(cfg, spec, slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			return nil, nil, err
		}
		if af.met != nil {
			a.ObserveRequests(af.met.AdvisorRequest)
		}
		return a, func() {}, nil
	}
	return nil, nil, fmt.Errorf("unknown --advisor %q: valid advisors are %v", af.name, advisorNames())
}

// llmConfig merges the defaults, --llm-config and the flags.
func llmConfig(af advisorFlags) (llm.Config, error) {
	cfg := llm.DefaultConfig()
	if af.llmConfig != "" {
		b, err := os.ReadFile(af.llmConfig)
		if err != nil {
			return cfg, fmt.Errorf("--llm-config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("--llm-config %s: %w", af.llmConfig, err)
		}
	}
	if af.llmURL != "" {
		cfg.BaseURL = af.llmURL
	}
	if af.model != "" {
		cfg.Model = af.model
	}
	if cfg.BaseURL == "" || cfg.Model == "" {
		return cfg, errors.New("--advisor llm needs an endpoint and a model: --llm-url URL (or $ULTRA_LLM_URL, e.g. http://localhost:8000/v1) and --model NAME (or $ULTRA_LLM_MODEL)")
	}
	if cfg.AuditLog == "" && af.audit != "" {
		cfg.AuditLog = af.audit
	}
	if cfg.CacheDir == "" && af.cache != "" {
		cfg.CacheDir = af.cache
	}
	return cfg, nil
}
