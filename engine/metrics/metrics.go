// Package metrics exports ultra's training, advisor and checkpoint series to
// Prometheus.
//
// Every training series carries exactly three constant labels, run, env and
// variant (see Labels), so the number of series per run is fixed. The only
// extra labels are small closed sets: kind on modulator events, outcome on
// advisor requests, type on advisor tokens, kind on rejected answer parts
// (capped, see Metrics.Rejected) and result on checkpoint writes.
//
// Names follow ultra_<subsystem>_<name>_<unit>: counters end in _total and
// durations are in seconds. Names lists every family; the Grafana dashboard
// in deploy/grafana uses them.
//
// The methods of Metrics are safe for concurrent use. Methods that take
// cumulative values (Stage, TableHits, AdvisorTotals, the GlobalStep and
// PhysicsResets of Iteration) add the growth since the previous call to
// their counters; a value smaller than the previous one is taken to be a
// restarted source and counts from zero.
//
// The package depends on no other ultra package: Iteration, Stage and
// AdvisorTotals take this package's IterationStats, StageStats and
// AdvisorReport, which callers fill from the trainer's, the annotation
// stage's and the advisor's own statistics.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Labels identify a run; they are the only labels on training series (bounded cardinality).
type Labels struct{ Run, Env, Variant string }

// Modulator event kinds (the kind label of ultra_modulator_events_total).
const (
	KindOverrides = "overrides" // steps whose action the modulator replaced
	KindBonuses   = "bonuses"   // steps given a non-zero reward bonus
	KindResets    = "resets"    // episodes started from a critical-state snapshot
	// KindFailedResets counts critical-state snapshots the env could not
	// restore (those episodes started fresh).
	KindFailedResets = "failed_resets"
)

// Advisor request outcomes (the outcome label of ultra_advisor_requests_total).
// Metrics.AdvisorRequest records any other outcome as OutcomeOther.
const (
	OutcomeOK          = "ok"           // the endpoint answered
	OutcomeError       = "error"        // the request failed (not a timeout or a 429)
	OutcomeTimeout     = "timeout"      // the request timed out
	OutcomeRateLimited = "rate_limited" // the endpoint answered 429
	OutcomeCacheHit    = "cache_hit"    // answered from the response cache; no request made
	OutcomeBudget      = "budget"       // refused because the advisor's budget is spent; no request made
	OutcomeOther       = "other"        // an outcome not in this list
)

// Checkpoint write results (the result label of ultra_checkpoint_writes_total).
const (
	ResultOK    = "ok"
	ResultError = "error"
)

// MaxRejectedKinds caps the distinct kind label values of
// ultra_advisor_rejected_total; later new kinds are counted as "other".
const MaxRejectedKinds = 32

// Metric family names.
const (
	nameEnvSteps         = "ultra_env_steps_total"
	nameEnvEpisodes      = "ultra_env_episodes_total"
	nameEnvPhysicsResets = "ultra_env_physics_resets_total"
	nameEnvWorkersBusy   = "ultra_env_workers_busy_ratio"

	nameTrainIteration    = "ultra_train_iteration"
	nameTrainSPS          = "ultra_train_steps_per_second"
	nameTrainRolloutSec   = "ultra_train_rollout_duration_seconds"
	nameTrainUpdateSec    = "ultra_train_update_duration_seconds"
	nameTrainReturn       = "ultra_train_episodic_return"
	nameTrainLength       = "ultra_train_episode_length_steps"
	nameTrainReturnLast10 = "ultra_train_episodic_return_last10_mean"

	namePPOPolicyLoss   = "ultra_ppo_policy_loss"
	namePPOValueLoss    = "ultra_ppo_value_loss"
	namePPOEntropy      = "ultra_ppo_entropy"
	namePPOApproxKL     = "ultra_ppo_approx_kl"
	namePPOClipFraction = "ultra_ppo_clip_fraction"
	namePPOExplainedVar = "ultra_ppo_explained_variance"
	namePPOLearningRate = "ultra_ppo_learning_rate"
	namePPOGradNorm     = "ultra_ppo_grad_norm"
	namePPOEpochs       = "ultra_ppo_epochs"
	namePPOImitation    = "ultra_ppo_imitation_loss"

	nameModEvents  = "ultra_modulator_events_total"
	nameModLookups = "ultra_modulator_lookups_total"
	nameModHits    = "ultra_modulator_hits_total"

	nameAdvRequests    = "ultra_advisor_requests_total"
	nameAdvDuration    = "ultra_advisor_request_duration_seconds"
	nameAdvTokens      = "ultra_advisor_tokens_total"
	nameAdvCacheHits   = "ultra_advisor_cache_hits_total"
	nameAdvRejected    = "ultra_advisor_rejected_total"
	nameAdvQueueDepth  = "ultra_advisor_queue_depth_batches"
	nameAdvDropped     = "ultra_advisor_dropped_batches_total"
	nameAdvAnnotated   = "ultra_advisor_annotated_batches_total"
	nameAdvFailed      = "ultra_advisor_failed_batches_total"
	nameAdvBudgetSpent = "ultra_advisor_budget_exhausted"

	nameTableEntries = "ultra_table_entries"
	nameTableAdded   = "ultra_table_entries_added_total"

	nameCkptWrites   = "ultra_checkpoint_writes_total"
	nameCkptDuration = "ultra_checkpoint_write_duration_seconds"
)

// names is every family this package defines.
var names = []string{
	nameEnvSteps, nameEnvEpisodes, nameEnvPhysicsResets, nameEnvWorkersBusy,
	nameTrainIteration, nameTrainSPS, nameTrainRolloutSec, nameTrainUpdateSec,
	nameTrainReturn, nameTrainLength, nameTrainReturnLast10,
	namePPOPolicyLoss, namePPOValueLoss, namePPOEntropy, namePPOApproxKL, namePPOClipFraction,
	namePPOExplainedVar, namePPOLearningRate, namePPOGradNorm, namePPOEpochs, namePPOImitation,
	nameModEvents, nameModLookups, nameModHits,
	nameAdvRequests, nameAdvDuration, nameAdvTokens, nameAdvCacheHits, nameAdvRejected,
	nameAdvQueueDepth, nameAdvDropped, nameAdvAnnotated, nameAdvFailed, nameAdvBudgetSpent,
	nameTableEntries, nameTableAdded,
	nameCkptWrites, nameCkptDuration,
}

// Names returns every metric family name this package defines (for tests that check dashboards).
// Histograms are listed by their family name; their _bucket, _sum and _count
// series are derived from it. The slice is sorted and the caller's to keep.
func Names() []string {
	out := append([]string(nil), names...)
	sort.Strings(out)
	return out
}

// Histogram buckets.
var (
	// returnBuckets spans MuJoCo returns from about −1000 to 10000.
	returnBuckets = []float64{-1000, -500, -250, -100, -50, 0, 50, 100, 250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000}
	// lengthBuckets spans episode lengths 1..1000 (MuJoCo's time limit).
	lengthBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 750, 999, 1000}
	// advisorBuckets spans LLM request latencies, 50 ms to 2 min.
	advisorBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120}
	// checkpointBuckets spans checkpoint writes, 1 ms to 30 s.
	checkpointBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
)

// IterationStats is one PPO iteration's values, as Metrics.Iteration
// exports them (the trainer's per-iteration statistics, ppo.IterStats).
type IterationStats struct {
	Iteration     int     // iterations done, this one included
	GlobalStep    int64   // cumulative environment steps, all parallel envs
	SPS           float64 // environment steps per second over this iteration
	RolloutSec    float64 // wall time of this iteration's rollout, in seconds
	UpdateSec     float64 // wall time of this iteration's PPO update, in seconds
	EnvBusy       float64 // share of the env workers' time in Step spent stepping during the rollout (0: not measured)
	Return10      float64 // mean return of the last 10 finished episodes (NaN before any)
	Episodes      int     // training episodes finished this iteration
	Overrides     int     // steps whose action the modulator replaced this iteration
	Bonuses       int     // steps given a non-zero reward bonus this iteration
	Resets        int     // episodes started from a critical-state snapshot this iteration
	FailedResets  int     // critical-state snapshots that could not be restored this iteration
	ImitationLoss float64 // the behaviour-cloning term of the loss, before its weight (imitating variants)
	PhysicsResets int64   // cumulative episodes cut short by unstable physics
	PolicyLoss    float64 // PPO clipped policy loss
	ValueLoss     float64 // PPO value loss
	Entropy       float64 // policy entropy
	ApproxKL      float64 // approximate KL divergence between the old and new policy
	ClipFrac      float64 // fraction of samples whose probability ratio was clipped
	ExplainedVar  float64 // explained variance of the value function
	LearningRate  float64 // learning rate of the update
	GradNorm      float64 // gradient norm before clipping
	Epochs        int     // update epochs run (fewer after a target-KL stop)
}

// StageStats is the annotation stage's cumulative statistics, as
// Metrics.Stage exports them (ultra.StageStats with its advisor report's
// failed batches and budget flag).
type StageStats struct {
	QueueDepth      int   // episode batches waiting for the advisor now
	Dropped         int64 // cumulative batches dropped unannotated because the queue was full
	Annotated       int64 // cumulative batches the advisor finished
	Added           int64 // cumulative critical-state table entries added
	Failed          int64 // cumulative batches whose annotation was lost to an advisor error
	BudgetExhausted bool  // the advisor's request or token budget is spent
}

// AdvisorReport is an advisor's cumulative totals, as Metrics.AdvisorTotals
// exports them (the token, cache and rejection counts of advisor.Report).
type AdvisorReport struct {
	PromptTokens     int64            // cumulative prompt tokens used
	CompletionTokens int64            // cumulative completion tokens used
	CacheHits        int64            // cumulative requests answered from the response cache
	Rejected         map[string]int64 // cumulative rejected answer parts by kind; only read
}

// Metrics holds ultra's series for one run.
// Create it with New; its methods are safe for concurrent use.
type Metrics struct {
	envSteps, episodes, physicsResets prometheus.Counter
	envBusy                           prometheus.Gauge

	iteration, sps, rolloutSec, updateSec, returnLast10 prometheus.Gauge
	episodicReturn, episodeLength                       prometheus.Histogram

	policyLoss, valueLoss, entropy, approxKL, clipFrac prometheus.Gauge
	explainedVar, learningRate, gradNorm, epochs       prometheus.Gauge
	imitationLoss                                      prometheus.Gauge

	modEvents           *prometheus.CounterVec
	modLookups, modHits prometheus.Counter

	advRequests                         *prometheus.CounterVec
	advDuration                         prometheus.Histogram
	advTokens                           *prometheus.CounterVec
	advCacheHits                        prometheus.Counter
	advRejected                         *prometheus.CounterVec
	advQueueDepth, advBudget            prometheus.Gauge
	advDropped, advAnnotated, advFailed prometheus.Counter

	tableEntries prometheus.Gauge
	tableAdded   prometheus.Counter

	ckptWrites   *prometheus.CounterVec
	ckptDuration prometheus.Histogram

	mu            sync.Mutex
	last          cumulative
	stepsSeen     bool
	rejectedKinds map[string]bool
}

// cumulative holds the previous cumulative values the counters were
// advanced to.
type cumulative struct {
	globalStep, physicsResets             int64
	dropped, annotated, added, failed     int64
	hits, lookups                         int64
	promptTokens, completionTokens, cache int64
	rejected                              map[string]int64
}

// New registers ultra's series for the run l on reg. Each series carries
// l's run, env and variant as constant labels; all three must be non-empty.
// Registering the same Labels twice on one registry is an error.
func New(reg prometheus.Registerer, l Labels) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil registerer")
	}
	for _, f := range []struct{ name, v string }{{"run", l.Run}, {"env", l.Env}, {"variant", l.Variant}} {
		if f.v == "" {
			return nil, fmt.Errorf("metrics: the %s label is empty; every run needs a run, env and variant", f.name)
		}
		if !utf8.ValidString(f.v) {
			return nil, fmt.Errorf("metrics: the %s label %q is not valid UTF-8", f.name, f.v)
		}
	}
	m := &Metrics{rejectedKinds: map[string]bool{}}
	m.last.rejected = map[string]int64{}

	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	}
	counterVec := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	}

	m.envSteps = counter(nameEnvSteps, "Environment steps taken (all parallel envs).")
	m.episodes = counter(nameEnvEpisodes, "Training episodes finished.")
	m.physicsResets = counter(nameEnvPhysicsResets, "Episodes cut short because the physics simulation became unstable.")
	m.envBusy = gauge(nameEnvWorkersBusy, "Share of the env workers' time in VecEnv.Step spent stepping instances in the last rollout; the rest waited at the step barrier.")

	m.iteration = gauge(nameTrainIteration, "PPO iterations done (rollout plus update).")
	m.sps = gauge(nameTrainSPS, "Environment steps per second over the last iteration.")
	m.rolloutSec = gauge(nameTrainRolloutSec, "Wall time of the last iteration's rollout.")
	m.updateSec = gauge(nameTrainUpdateSec, "Wall time of the last iteration's PPO update.")
	m.returnLast10 = gauge(nameTrainReturnLast10, "Mean return of the last 10 finished training episodes (NaN before any).")
	m.episodicReturn = histogram(nameTrainReturn, "Undiscounted return of finished training episodes.", returnBuckets)
	m.episodeLength = histogram(nameTrainLength, "Length in steps of finished training episodes.", lengthBuckets)

	m.policyLoss = gauge(namePPOPolicyLoss, "PPO clipped policy loss of the last update.")
	m.valueLoss = gauge(namePPOValueLoss, "PPO value loss of the last update.")
	m.entropy = gauge(namePPOEntropy, "Policy entropy of the last update.")
	m.approxKL = gauge(namePPOApproxKL, "Approximate KL divergence between the old and new policy in the last update.")
	m.clipFrac = gauge(namePPOClipFraction, "Fraction of samples whose probability ratio was clipped in the last update.")
	m.explainedVar = gauge(namePPOExplainedVar, "Explained variance of the value function on the last rollout.")
	m.learningRate = gauge(namePPOLearningRate, "Learning rate of the last update.")
	m.gradNorm = gauge(namePPOGradNorm, "Gradient norm (before clipping) of the last update.")
	m.epochs = gauge(namePPOEpochs, "Update epochs run in the last update (fewer after a target-KL stop).")
	m.imitationLoss = gauge(namePPOImitation, "Behaviour-cloning term of the last update's loss, before its weight (ultra-i, ultra-ia; 0 otherwise).")

	m.modEvents = counterVec(nameModEvents, "Modulator interventions by kind.", "kind")
	m.modLookups = counter(nameModLookups, "Critical-state table lookups by the modulator.")
	m.modHits = counter(nameModHits, "Critical-state table lookups that matched an entry.")

	m.advRequests = counterVec(nameAdvRequests, "Advisor (LLM) requests by outcome.", "outcome")
	m.advDuration = histogram(nameAdvDuration, "Latency of advisor requests sent to the endpoint.", advisorBuckets)
	m.advTokens = counterVec(nameAdvTokens, "Advisor tokens used, by type (prompt or completion).", "type")
	m.advCacheHits = counter(nameAdvCacheHits, "Advisor requests answered from the response cache.")
	m.advRejected = counterVec(nameAdvRejected, "Rejected parts of advisor answers, by kind.", "kind")
	m.advQueueDepth = gauge(nameAdvQueueDepth, "Episode batches waiting for the advisor.")
	m.advBudget = gauge(nameAdvBudgetSpent, "1 once the advisor's request or token budget is spent, else 0.")
	m.advDropped = counter(nameAdvDropped, "Episode batches dropped unannotated because the advisor queue was full.")
	m.advAnnotated = counter(nameAdvAnnotated, "Episode batches the advisor finished.")
	m.advFailed = counter(nameAdvFailed, "Episode batches whose annotation was lost to an advisor error.")

	m.tableEntries = gauge(nameTableEntries, "Entries in the critical-state table.")
	m.tableAdded = counter(nameTableAdded, "Entries added to the critical-state table.")

	m.ckptWrites = counterVec(nameCkptWrites, "Checkpoint writes by result.", "result")
	m.ckptDuration = histogram(nameCkptDuration, "Duration of checkpoint writes.", checkpointBuckets)

	// Series of the closed label sets exist from the start, so rate() and
	// increase() see their first events.
	for _, k := range []string{KindOverrides, KindBonuses, KindResets, KindFailedResets} {
		m.modEvents.WithLabelValues(k)
	}
	for _, o := range []string{OutcomeOK, OutcomeError, OutcomeTimeout, OutcomeRateLimited, OutcomeCacheHit, OutcomeBudget} {
		m.advRequests.WithLabelValues(o)
	}
	m.advTokens.WithLabelValues("prompt")
	m.advTokens.WithLabelValues("completion")
	m.ckptWrites.WithLabelValues(ResultOK)
	m.ckptWrites.WithLabelValues(ResultError)

	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"run": l.Run, "env": l.Env, "variant": l.Variant}, reg)
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{
		m.envSteps, m.episodes, m.physicsResets, m.envBusy,
		m.iteration, m.sps, m.rolloutSec, m.updateSec, m.returnLast10, m.episodicReturn, m.episodeLength,
		m.policyLoss, m.valueLoss, m.entropy, m.approxKL, m.clipFrac, m.explainedVar, m.learningRate, m.gradNorm, m.epochs, m.imitationLoss,
		m.modEvents, m.modLookups, m.modHits,
		m.advRequests, m.advDuration, m.advTokens, m.advCacheHits, m.advRejected,
		m.advQueueDepth, m.advBudget, m.advDropped, m.advAnnotated, m.advFailed,
		m.tableEntries, m.tableAdded,
		m.ckptWrites, m.ckptDuration,
	} {
		if err := wrapped.Register(c); err != nil {
			for _, d := range done {
				wrapped.Unregister(d)
			}
			if errors.As(err, &prometheus.AlreadyRegisteredError{}) {
				return nil, fmt.Errorf("metrics: series for run %q env %q variant %q are already registered: %w", l.Run, l.Env, l.Variant, err)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
		done = append(done, c)
	}
	return m, nil
}

// grow returns how much the cumulative value cur grew since *last and
// stores cur; a decrease means the source restarted, so all of cur is new.
func grow(last *int64, cur int64) int64 {
	if cur < 0 {
		cur = 0
	}
	d := cur - *last
	if d < 0 {
		d = cur
	}
	*last = cur
	return d
}

// add adds n to c when n is positive (Counter.Add panics on negatives).
func add[T int | int64](c prometheus.Counter, n T) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// Iteration records one PPO iteration's statistics:
//   - ultra_env_steps_total grows by the GlobalStep growth since the previous
//     call. The first call counts only this iteration's own steps
//     (GlobalStep/Iteration), so a resumed run does not show a burst of
//     the steps done before the resume;
//   - ultra_env_episodes_total by st.Episodes, and
//     ultra_modulator_events_total by st.Overrides (overrides),
//     st.Bonuses (bonuses) and st.Resets (resets), all counts of
//     this iteration;
//   - ultra_env_physics_resets_total by the growth of the cumulative
//     st.PhysicsResets;
//   - the gauges are set: iteration, steps per second, rollout and update
//     time, mean return of the last 10 episodes, and the PPO policy, value
//     and entropy losses, approx-KL, clip fraction, explained variance,
//     learning rate, grad norm, epochs and the imitation term.
func (m *Metrics) Iteration(st IterationStats) {
	m.mu.Lock()
	var steps int64
	if !m.stepsSeen && st.Iteration > 1 && st.GlobalStep > 0 {
		steps = st.GlobalStep / int64(st.Iteration)
		m.last.globalStep = max(st.GlobalStep, 0)
	} else {
		steps = grow(&m.last.globalStep, st.GlobalStep)
	}
	m.stepsSeen = true
	physics := grow(&m.last.physicsResets, st.PhysicsResets)
	m.mu.Unlock()

	add(m.envSteps, steps)
	add(m.episodes, st.Episodes)
	add(m.physicsResets, physics)
	add(m.modEvents.WithLabelValues(KindOverrides), st.Overrides)
	add(m.modEvents.WithLabelValues(KindBonuses), st.Bonuses)
	add(m.modEvents.WithLabelValues(KindResets), st.Resets)
	add(m.modEvents.WithLabelValues(KindFailedResets), st.FailedResets)

	m.iteration.Set(float64(st.Iteration))
	m.sps.Set(st.SPS)
	m.rolloutSec.Set(st.RolloutSec)
	if st.EnvBusy > 0 {
		m.envBusy.Set(st.EnvBusy)
	}
	m.updateSec.Set(st.UpdateSec)
	m.returnLast10.Set(st.Return10)
	m.policyLoss.Set(st.PolicyLoss)
	m.valueLoss.Set(st.ValueLoss)
	m.entropy.Set(st.Entropy)
	m.approxKL.Set(st.ApproxKL)
	m.clipFrac.Set(st.ClipFrac)
	m.explainedVar.Set(st.ExplainedVar)
	m.learningRate.Set(st.LearningRate)
	m.gradNorm.Set(st.GradNorm)
	m.epochs.Set(float64(st.Epochs))
	m.imitationLoss.Set(st.ImitationLoss)
}

// Episode records one finished training episode in the
// ultra_train_episodic_return and ultra_train_episode_length_steps
// histograms. A non-finite return or a negative length is not recorded.
func (m *Metrics) Episode(ret float64, length int) {
	if !math.IsNaN(ret) && !math.IsInf(ret, 0) {
		m.episodicReturn.Observe(ret)
	}
	if length >= 0 {
		m.episodeLength.Observe(float64(length))
	}
}

// Stage records the annotation stage's cumulative statistics: it sets
// ultra_advisor_queue_depth_batches and ultra_advisor_budget_exhausted, and
// grows ultra_advisor_dropped_batches_total,
// ultra_advisor_annotated_batches_total, ultra_advisor_failed_batches_total
// and ultra_table_entries_added_total by their growth since the previous
// call. The advisor's tokens, cache hits and rejections go to
// AdvisorTotals.
func (m *Metrics) Stage(st StageStats) {
	m.mu.Lock()
	dropped := grow(&m.last.dropped, st.Dropped)
	annotated := grow(&m.last.annotated, st.Annotated)
	added := grow(&m.last.added, st.Added)
	failed := grow(&m.last.failed, st.Failed)
	m.mu.Unlock()

	m.advQueueDepth.Set(float64(st.QueueDepth))
	if st.BudgetExhausted {
		m.advBudget.Set(1)
	} else {
		m.advBudget.Set(0)
	}
	add(m.advDropped, dropped)
	add(m.advAnnotated, annotated)
	add(m.advFailed, failed)
	add(m.tableAdded, added)
}

// TableEntries sets ultra_table_entries to the critical-state table's size
// (ultra.Table.Len).
func (m *Metrics) TableEntries(n int) {
	m.tableEntries.Set(float64(n))
}

// outcomes is the closed set of request outcomes.
var outcomes = map[string]bool{
	OutcomeOK: true, OutcomeError: true, OutcomeTimeout: true, OutcomeRateLimited: true,
	OutcomeCacheHit: true, OutcomeBudget: true,
}

// AdvisorRequest records one advisor request: ultra_advisor_requests_total
// by outcome (one of the Outcome constants; others count as "other"), its
// latency in ultra_advisor_request_duration_seconds unless no request
// reached the endpoint (cache_hit, budget), and the tokens it used in
// ultra_advisor_tokens_total. A cache hit also counts in
// ultra_advisor_cache_hits_total.
//
// Feed advisor activity either per event (AdvisorRequest and Rejected) or
// from cumulative reports (AdvisorTotals), not both, or tokens, cache hits
// and rejections are counted twice.
func (m *Metrics) AdvisorRequest(outcome string, latency time.Duration, promptTokens, completionTokens int) {
	if !outcomes[outcome] {
		outcome = OutcomeOther
	}
	m.advRequests.WithLabelValues(outcome).Inc()
	switch outcome {
	case OutcomeCacheHit:
		m.advCacheHits.Inc()
	case OutcomeBudget:
	default:
		if latency >= 0 {
			m.advDuration.Observe(latency.Seconds())
		}
	}
	add(m.advTokens.WithLabelValues("prompt"), promptTokens)
	add(m.advTokens.WithLabelValues("completion"), completionTokens)
}

// rejectedKind maps kind onto the bounded label set of
// ultra_advisor_rejected_total: kinds must be 1..64 bytes of [a-z0-9_], and
// after MaxRejectedKinds distinct kinds new ones become "other".
// m.mu must be held.
func (m *Metrics) rejectedKind(kind string) string {
	ok := len(kind) > 0 && len(kind) <= 64
	for i := 0; ok && i < len(kind); i++ {
		c := kind[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
	}
	switch {
	case !ok:
		return "other"
	case m.rejectedKinds[kind]:
		return kind
	case len(m.rejectedKinds) >= MaxRejectedKinds:
		return "other"
	}
	m.rejectedKinds[kind] = true
	return kind
}

// Rejected grows ultra_advisor_rejected_total{kind} by n rejected answer
// parts (the kinds of AdvisorReport.Rejected). Kinds outside [a-z0-9_], and new
// kinds beyond MaxRejectedKinds, count as "other".
func (m *Metrics) Rejected(kind string, n int) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	kind = m.rejectedKind(kind)
	m.mu.Unlock()
	m.advRejected.WithLabelValues(kind).Add(float64(n))
}

// AdvisorTotals records an advisor's cumulative report:
// ultra_advisor_tokens_total,
// ultra_advisor_cache_hits_total and ultra_advisor_rejected_total grow by
// the growth since the previous call. Reports carry no per-request
// outcome or latency, so ultra_advisor_requests_total and
// ultra_advisor_request_duration_seconds need AdvisorRequest. Use either
// AdvisorTotals or AdvisorRequest and Rejected for tokens, cache hits and
// rejections, not both.
func (m *Metrics) AdvisorTotals(r AdvisorReport) {
	m.mu.Lock()
	prompt := grow(&m.last.promptTokens, r.PromptTokens)
	completion := grow(&m.last.completionTokens, r.CompletionTokens)
	cache := grow(&m.last.cache, r.CacheHits)
	kinds := make([]string, 0, len(r.Rejected))
	for k := range r.Rejected {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds) // the first MaxRejectedKinds kinds are kept in a fixed order
	rejected := map[string]int64{}
	for _, k := range kinds {
		last := m.last.rejected[k]
		if d := grow(&last, r.Rejected[k]); d > 0 {
			rejected[m.rejectedKind(k)] += d
		}
		m.last.rejected[k] = last
	}
	m.mu.Unlock()

	add(m.advTokens.WithLabelValues("prompt"), prompt)
	add(m.advTokens.WithLabelValues("completion"), completion)
	add(m.advCacheHits, cache)
	for k, d := range rejected {
		m.advRejected.WithLabelValues(k).Add(float64(d))
	}
}

// Checkpoint records one checkpoint write that took d and failed with err
// (nil on success): ultra_checkpoint_writes_total{result="ok"|"error"} and
// ultra_checkpoint_write_duration_seconds.
func (m *Metrics) Checkpoint(d time.Duration, err error) {
	result := ResultOK
	if err != nil {
		result = ResultError
	}
	m.ckptWrites.WithLabelValues(result).Inc()
	if d >= 0 {
		m.ckptDuration.Observe(d.Seconds())
	}
}

// TableHits records the critical-state table's cumulative hits and lookups
// (ultra.Table.HitRate, or the Modulator's Matches and Lookups):
// ultra_modulator_hits_total and ultra_modulator_lookups_total grow by the
// growth since the previous call.
func (m *Metrics) TableHits(hits, lookups int64) {
	m.mu.Lock()
	h := grow(&m.last.hits, hits)
	l := grow(&m.last.lookups, lookups)
	m.mu.Unlock()
	add(m.modHits, h)
	add(m.modLookups, l)
}
