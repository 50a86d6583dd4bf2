package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/internal/configflags"
)

// config turns the advisor flags into the engine's configuration; for llm
// it merges the defaults, --llm-config and the flags, and checks that an
// endpoint and a model are given.
func (af advisorFlags) config() (experiment.AdvisorConfig, error) {
	ac := experiment.AdvisorConfig{Name: af.Name, PerEpisode: af.Critical, Seed: af.seed, BatchImport: af.batchImport, Expert: af.Expert}
	if _, err := af.deadline(); err != nil { // checked whatever the advisor
		return ac, err
	}
	switch af.Name {
	case "scripted", "random":
		return ac, nil
	case "expert":
		return ac, ac.Validate()
	case "llm":
		var err error
		if ac.LLM, err = llmConfig(af); err != nil || af.offline {
			return ac, err
		}
		return ac, ac.Validate() // what the llm advisor needs: a model, and an endpoint unless it imports answers
	}
	return ac, fmt.Errorf("unknown --advisor %q: valid advisors are %s", af.Name, strings.Join(experiment.AdvisorNames, ", "))
}

// llmConfig merges the defaults, --llm-config and the flags.
func llmConfig(af advisorFlags) (llm.Config, error) {
	cfg := llm.DefaultConfig()
	if af.LLMConfig != "" {
		if err := configflags.DecodeFile(af.LLMConfig, &cfg); err != nil {
			return cfg, fmt.Errorf("--llm-config %w", err)
		}
	}
	if af.LLMURL != "" {
		cfg.BaseURL = af.LLMURL
	}
	if af.Model != "" {
		cfg.Model = af.Model
	}
	if af.LLMDeadline != "" {
		d, err := af.deadline()
		if err != nil {
			return cfg, err
		}
		cfg.Deadline = d
	}
	return cfg, nil
}

// deadline parses --llm-deadline (0 when not given).
func (af advisorFlags) deadline() (time.Duration, error) {
	if af.LLMDeadline == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(af.LLMDeadline)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--llm-deadline %q: want a duration ≥ 0 such as 20m or 1h30m (0 = none)", af.LLMDeadline)
	}
	return d, nil
}
