package experiment

import (
	"context"
	"fmt"

	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/advisor/scripted"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

// CoverageWindow is the window before a failure whose share the coverage
// measures: the last 60 steps of each failed episode.
const CoverageWindow = 60

// PromptCoverage measures what the LLM is shown, with no LLM: the written
// prompts' sizes, the share of each failed episode's last CoverageWindow
// steps it may cite, and the share of the scripted expert's critical steps
// it may cite.
type PromptCoverage struct {
	Task     string `json:"task"`
	Episodes int    `json:"episodes"`
	// Failed counts the failed episodes (terminated; for Pong, lost games).
	Failed int `json:"failed"`
	// Requests is how many requests the prompts make (ModeThree: three per
	// batch; ModeAgentic: the first of each batch).
	Requests int `json:"requests"`
	// TokensPerRequest is the mean estimated prompt tokens of a request,
	// TokensMax the largest and TokensTotal their sum: the prompt tokens of
	// one annotate of these episodes.
	TokensPerRequest float64 `json:"tokens_per_request"`
	TokensMax        int     `json:"tokens_max"`
	TokensTotal      int     `json:"tokens_total"`
	// LastWindow is the mean over failed episodes of the share of their
	// last CoverageWindow steps (all of them if shorter) that are citable;
	// NaN-free: 0 when no episode failed.
	LastWindow float64 `json:"last_window_coverage"`
	// Critical is how many critical steps the scripted expert names, and
	// CriticalCitable how many of them the prompts let the LLM cite.
	Critical        int `json:"scripted_critical"`
	CriticalCitable int `json:"scripted_critical_citable"`
}

// CriticalShare is CriticalCitable / Critical (0 without critical steps).
func (c PromptCoverage) CriticalShare() float64 {
	if c.Critical == 0 {
		return 0
	}
	return float64(c.CriticalCitable) / float64(c.Critical)
}

// PrintPrompts writes every request the llm advisor ac would send for
// trajs into dir (llm.Advisor.WritePrompts: JSON and plain text), sending
// nothing and needing no key or endpoint, and measures the prompts'
// coverage against the scripted expert (with ac.PerEpisode critical steps
// per episode, as `annotate --advisor scripted` would name).
func PrintPrompts(trajs []traj.Trajectory, spec env.Spec, ac AdvisorConfig, dir string) ([]llm.PromptInfo, PromptCoverage, error) {
	cov := PromptCoverage{Task: spec.ID}
	if ac.Name != "llm" {
		return nil, cov, fmt.Errorf("prompts are the llm advisor's, not %s's", ac.Name)
	}
	a, err := llm.NewOffline(ac.LLM, spec)
	if err != nil {
		return nil, cov, err
	}
	infos, err := a.WritePrompts(trajs, dir)
	if err != nil {
		return nil, cov, err
	}
	citable := map[string]map[int]bool{}
	for _, in := range infos {
		cov.Requests++
		cov.TokensTotal += in.Tokens
		cov.TokensMax = max(cov.TokensMax, in.Tokens)
		for id, ks := range in.Citable {
			if citable[id] == nil {
				citable[id] = map[int]bool{}
			}
			for _, k := range ks {
				citable[id][k] = true
			}
		}
	}
	if cov.Requests > 0 {
		cov.TokensPerRequest = float64(cov.TokensTotal) / float64(cov.Requests)
	}
	sum := 0.0
	for i := range trajs {
		t := &trajs[i]
		if t.Len() == 0 {
			continue
		}
		cov.Episodes++
		if !t.Terminated || (spec.Action.IsDiscrete() && t.Return >= 0) {
			continue
		}
		cov.Failed++
		n := t.Len()
		from := max(0, n-CoverageWindow)
		got := 0
		for k := from; k < n; k++ {
			if citable[t.ID][k] {
				got++
			}
		}
		sum += float64(got) / float64(n-from)
	}
	if cov.Failed > 0 {
		cov.LastWindow = sum / float64(cov.Failed)
	}
	per := ac.PerEpisode
	if per < 1 {
		per = scripted.DefaultConfig().MaxCritical
	}
	sc := scripted.DefaultConfig()
	sc.MaxCritical = per
	expert, err := scripted.New(spec, sc)
	if err != nil {
		return infos, cov, fmt.Errorf("coverage: %w", err)
	}
	anns, _, err := expert.Annotate(context.Background(), trajs)
	if err != nil {
		return infos, cov, fmt.Errorf("coverage: scripted advisor: %w", err)
	}
	for _, an := range anns {
		cov.Critical++
		if citable[an.Episode][an.Step] {
			cov.CriticalCitable++
		}
	}
	return infos, cov, nil
}
