package main

import (
	"fmt"
	"io"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
)

func advisorNames() []string { return []string{"scripted", "random"} }

// newAdvisor builds the advisor the flags name; the returned func releases it.
func newAdvisor(af advisorFlags, spec env.Spec, stderr io.Writer) (advisor.Advisor, func(), error) {
	switch af.name {
	case "scripted":
		cfg := advisor.DefaultScriptedConfig()
		cfg.MaxCritical = af.perEpisode
		a, err := advisor.NewScripted(spec, cfg)
		return a, func() {}, err
	case "random":
		a, err := advisor.NewRandom(spec, af.perEpisode, af.seed)
		return a, func() {}, err
	}
	return nil, nil, fmt.Errorf("unknown --advisor %q: valid advisors are %v", af.name, advisorNames())
}
