package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/experiment"
)

// config turns the advisor flags into the engine's configuration; for llm
// it merges the defaults, --llm-config and the flags, and checks that an
// endpoint and a model are given.
func (af advisorFlags) config() (experiment.AdvisorConfig, error) {
	ac := experiment.AdvisorConfig{Name: af.name, PerEpisode: af.perEpisode, Seed: af.seed}
	switch af.name {
	case "scripted", "random":
		return ac, nil
	case "llm":
		var err error
		ac.LLM, err = llmConfig(af)
		return ac, err
	}
	return ac, fmt.Errorf("unknown --advisor %q: valid advisors are %v", af.name, experiment.AdvisorNames)
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
	return cfg, nil
}
