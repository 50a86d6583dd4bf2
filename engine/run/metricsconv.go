package run

import (
	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/ultra"
)

// The metrics package takes plain values and imports no other engine
// package; these functions fill its inputs from the trainer's, the
// annotation stage's and the advisor's statistics.

// iterationMetrics is st as metrics.Metrics.Iteration takes it.
func iterationMetrics(st ppo.IterStats) metrics.IterationStats {
	return metrics.IterationStats{
		Iteration:     st.Iteration,
		GlobalStep:    st.GlobalStep,
		SPS:           st.SPS,
		RolloutSec:    st.RolloutSec,
		UpdateSec:     st.UpdateSec,
		Return10:      st.Return10,
		Episodes:      st.Episodes,
		Overrides:     st.Overrides,
		Bonuses:       st.Bonuses,
		Resets:        st.Resets,
		PhysicsResets: st.PhysicsResets,
		PolicyLoss:    st.PolicyLoss,
		ValueLoss:     st.ValueLoss,
		Entropy:       st.Entropy,
		ApproxKL:      st.ApproxKL,
		ClipFrac:      st.ClipFrac,
		ExplainedVar:  st.ExplainedVar,
		LearningRate:  st.LearningRate,
		GradNorm:      st.GradNorm,
		Epochs:        st.Epochs,
	}
}

// stageMetrics is st as metrics.Metrics.Stage takes it: the stage's
// counts, with the failed batches and the budget flag of its advisor
// report (the budget is spent when either the stage or the advisor says so).
func stageMetrics(st ultra.StageStats) metrics.StageStats {
	return metrics.StageStats{
		QueueDepth:      st.QueueDepth,
		Dropped:         st.Dropped,
		Annotated:       st.Annotated,
		Added:           st.Added,
		Failed:          int64(st.Report.Failed),
		BudgetExhausted: st.BudgetReached || st.Report.BudgetExhausted,
	}
}

// advisorMetrics is r's tokens, cache hits and rejections as
// metrics.Metrics.AdvisorTotals takes them.
func advisorMetrics(r advisor.Report) metrics.AdvisorReport {
	var rejected map[string]int64
	if len(r.Rejected) > 0 {
		rejected = make(map[string]int64, len(r.Rejected))
		for k, n := range r.Rejected {
			rejected[k] = int64(n)
		}
	}
	return metrics.AdvisorReport{
		PromptTokens:     int64(r.PromptTokens),
		CompletionTokens: int64(r.CompletionTokens),
		CacheHits:        int64(r.CacheHits),
		Rejected:         rejected,
	}
}
