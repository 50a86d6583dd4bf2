// Package llm is ULTRA's LLM advisor (arXiv 2505.20671): it shows batches of
// episode summaries to a model behind any OpenAI-compatible chat-completions
// endpoint and turns its answer into annotations, following the paper's
// three steps: identify the critical states where the action most changed
// the future return, suggest a better action there, and assign an implicit
// reward in [-1, 1] from a case analysis contrasting higher- and lower-return
// episodes.
//
// In ModeSingle one request does all three steps; in ModeThree three
// requests do one step each, each continuing the conversation with the
// previous answer; ModeAgentic is ModeSingle with the show_steps zoom tool
// (zoom.go). Summaries are multi-resolution by default (Config.Summary),
// with contrast windows of the batch's best episode next to failed ones
// (Config.Contrast). NewOffline and WritePrompts render the requests
// without sending them. Episodes are dealt into batches of
// Config.TrajectoriesPerRequest by return, so every prompt holds better and
// worse episodes to contrast.
//
// Answers are untrusted. The JSON is extracted from prose or code fences and
// validated: unknown episodes, steps outside the episode or not shown in the
// prompt, malformed fields, NaN and infinities, duplicates and annotations
// beyond Config.MaxCritical per episode are dropped; actions outside the
// action space are clamped — for a Discrete space, values that are not an
// integer in [0, N) are rounded and clamped — (counted as
// "action_clamped") and finite rewards
// outside [-1, 1] are clamped (counted as "reward_clamped"). Every kind is
// counted in advisor.Report.Rejected. An unusable answer (no JSON, no
// annotation list) fails only its batch: it is counted in Report.Failed and
// is not an error, since the endpoint worked; a request that fails after its
// retries fails its batch with an error. Annotate returns the annotations of
// the other batches either way.
//
// Requests go through a semaphore (Config.Concurrency), request and token
// rate limiters, retries with full-jitter backoff honouring Retry-After, a
// per-request timeout and a cap on the response size. A lifetime budget of
// requests or tokens makes Annotate return advisor.ErrBudget once spent.
// An on-disk content-addressed cache answers repeated prompts without a
// request, and an audit log records every prompt and answer as JSON lines.
// The API key never appears in logs, errors, the audit log or the cache.
package llm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Advisor is the llm advisor. It is safe for concurrent use.
type Advisor struct {
	cfg     Config
	observe RequestObserver
	spec    env.Spec
	log     *slog.Logger
	key     string
	client  *openai.Client
	tmpl    *templateSet
	base    promptData
	source  string

	sem      chan struct{}
	rpm, tpm *bucket
	cache    *diskCache
	audit    *auditLog

	noJSONMode atomic.Bool // the server rejected response_format
	reached    atomic.Bool // some request got an answer (any HTTP status)
	instance   string      // random prefix of request ids
	seq        atomic.Uint64

	mu       sync.Mutex // guards the lifetime spend below
	spent    *sync.Cond // signalled when a request's usage is booked
	requests int
	tokens   int
	inFlight int // estimated tokens of the requests in flight
}

var _ advisor.Advisor = (*Advisor)(nil)

// New checks cfg, reads the API key, loads the prompt templates (rendering
// them once against spec to catch template errors now rather than mid-run)
// and returns the advisor. logger may be nil.
func New(cfg Config, spec env.Spec, logger *slog.Logger) (*Advisor, error) {
	return buildAdvisor(cfg, spec, logger, true)
}

// NewForBatch is New for an advisor that only reads Batch API answers
// (ImportBatch) or writes requests (ExportBatch): it sends nothing, so it
// reads no API key and says nothing about one.
func NewForBatch(cfg Config, spec env.Spec, logger *slog.Logger) (*Advisor, error) {
	return buildAdvisor(cfg, spec, logger, false)
}

// ErrUnreachable reports an endpoint that refused the connection before
// any request of the advisor was answered: nothing listens there, and
// retrying would only wait.
var ErrUnreachable = errors.New("llm: endpoint unreachable")

func buildAdvisor(cfg Config, spec env.Spec, logger *slog.Logger, readKey bool) (*Advisor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if spec.Action.Dim <= 0 || (!spec.Action.IsDiscrete() && (len(spec.Action.Low) != spec.Action.Dim || len(spec.Action.High) != spec.Action.Dim)) {
		return nil, fmt.Errorf("llm: env %q has an invalid action space", spec.ID)
	}
	var key string
	if readKey {
		var err error
		if key, err = cfg.apiKey(); err != nil {
			return nil, err
		}
	}
	a := &Advisor{
		cfg: cfg, spec: spec, key: key,
		log:    logger.With("advisor", "llm", "model", cfg.Model),
		source: "llm:" + cfg.Model,
		sem:    make(chan struct{}, cfg.Concurrency),
		rpm:    newBucket(cfg.RequestsPerMinute),
		tpm:    newBucket(cfg.TokensPerMinute),
	}
	a.spent = sync.NewCond(&a.mu)
	if key == "" && readKey {
		a.log.Info("llm: no API key found; sending requests without one", "api_key_env", cfg.APIKeyEnv)
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	a.instance = hex.EncodeToString(id[:])

	rules, err := interpret.Rules(spec)
	if err != nil {
		return nil, fmt.Errorf("llm: rules of %s: %w", spec.ID, err)
	}
	a.base = baseData(spec, rules, cfg.MaxCritical)
	a.base.Agentic, a.base.MaxToolCalls, a.base.ToolSteps = cfg.Mode == ModeAgentic, cfg.MaxToolCalls, cfg.ToolSteps
	t, err := loadTemplates(cfg.PromptDir)
	if err != nil {
		return nil, err
	}
	a.tmpl = &templateSet{t}
	if err := a.tmpl.check(a.base); err != nil {
		return nil, err
	}

	if cfg.CacheDir != "" {
		a.cache = &diskCache{dir: cfg.CacheDir, scrub: a.scrub}
	}
	if cfg.AuditLog != "" {
		a.audit = &auditLog{path: cfg.AuditLog, scrub: a.scrub}
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Concurrency
	oc := openai.DefaultConfig(key)
	oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	oc.HTTPClient = &cappedDoer{client: &http.Client{Transport: tr}, max: cfg.MaxResponseBytes, now: time.Now}
	a.client = openai.NewClientWithConfig(oc)
	return a, nil
}

// Name returns "llm".
func (a *Advisor) Name() string { return "llm" }

// minRedactLen is the shortest key scrub redacts. A real API key is far
// longer; redacting a one- or two-character placeholder key (local servers
// accept anything) would garble every log line that holds that character.
const minRedactLen = 8

// scrub removes the API key from text bound for logs, errors and files.
func (a *Advisor) scrub(s string) string {
	if len(a.key) < minRedactLen {
		return s
	}
	return strings.ReplaceAll(s, a.key, "[REDACTED]")
}

// scrubCalls removes the API key from tool calls.
func (a *Advisor) scrubCalls(calls []openai.ToolCall) []openai.ToolCall {
	out := make([]openai.ToolCall, len(calls))
	for i, tc := range calls {
		out[i] = openai.ToolCall{ID: a.scrub(tc.ID), Type: tc.Type,
			Function: openai.FunctionCall{Name: a.scrub(tc.Function.Name), Arguments: a.scrub(tc.Function.Arguments)}}
	}
	return out
}

// scrubErr returns err, or a plain error with the key removed when its text
// holds the key (dropping the chain, which could expose it again).
func (a *Advisor) scrubErr(err error) error {
	if err == nil {
		return nil
	}
	msg := a.scrub(err.Error())
	if safe := safeText(msg); safe != msg || len(a.key) >= minRedactLen && strings.Contains(err.Error(), a.key) {
		return &outsideError{msg: safe, err: err}
	}
	return err
}

// outsideError is an error whose text carries outside text (a server's or
// a results file's), redacted and with its control characters escaped; it
// unwraps to the original, so errors.Is still sees ErrBudget and friends.
type outsideError struct {
	msg string
	err error
}

func (e *outsideError) Error() string { return e.msg }
func (e *outsideError) Unwrap() error { return e.err }

// safeText escapes the control characters of outside text (an ESC from a
// server's error message could retitle the terminal, erase the real error
// or print a fake line) as \x1b, \n and the like; the rest is kept.
func safeText(s string) string {
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate keeps the first n bytes of s, cut at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// exhausted reports whether the lifetime budget is spent.
func (a *Advisor) exhausted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.exhaustedLocked()
}

func (a *Advisor) exhaustedLocked() bool {
	return (a.cfg.BudgetRequests > 0 && a.requests >= a.cfg.BudgetRequests) ||
		(a.cfg.BudgetTokens > 0 && a.tokens >= a.cfg.BudgetTokens)
}

// reserve counts one request of an estimated est tokens against the
// budget, or reports the budget spent. While the tokens spent plus those
// reserved by requests in flight reach BudgetTokens it waits for those
// requests to book their usage, so that the spend does not depend on the
// concurrency.
func (a *Advisor) reserve(est int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if a.exhaustedLocked() {
			return false
		}
		if a.cfg.BudgetTokens == 0 || a.inFlight == 0 || a.tokens+a.inFlight < a.cfg.BudgetTokens {
			a.requests++
			a.inFlight += est
			return true
		}
		a.spent.Wait()
	}
}

// spend books a request's usage in place of its reservation of est.
func (a *Advisor) spend(est, tokens int) {
	a.mu.Lock()
	a.inFlight -= est
	a.tokens += tokens
	a.mu.Unlock()
	a.spent.Broadcast()
}

// Annotate annotates trajs in batches of Config.TrajectoriesPerRequest, run
// concurrently (requests in flight never exceed Config.Concurrency).
// Invalid trajectories are skipped and reported in the error; empty ones
// are skipped silently. It returns advisor.ErrBudget, with whatever was
// annotated before, once the budget is spent.
func (a *Advisor) Annotate(parent context.Context, trajs []traj.Trajectory) ([]advisor.Annotation, advisor.Report, error) {
	return a.annotate(parent, trajs, nil)
}

// AnnotateSteps implements advisor.StepAnnotator for the identification
// ablation: each summary shows the given steps, the model is told they are
// the critical states (the three-step mode's identification answer, made
// for it) and asked to suggest and score actions there. Annotations of
// other steps are dropped (counted as "not_asked").
func (a *Advisor) AnnotateSteps(ctx context.Context, trajs []traj.Trajectory, steps [][]int) ([]advisor.Annotation, advisor.Report, error) {
	if len(steps) != len(trajs) {
		return nil, advisor.Report{}, fmt.Errorf("llm: steps for %d trajectories, %d given", len(steps), len(trajs))
	}
	given := make(map[*traj.Trajectory][]int, len(trajs))
	for i := range trajs {
		given[&trajs[i]] = append([]int{}, steps[i]...)
	}
	return a.annotate(ctx, trajs, given)
}

func (a *Advisor) annotate(parent context.Context, trajs []traj.Trajectory, given map[*traj.Trajectory][]int) ([]advisor.Annotation, advisor.Report, error) {
	var rep advisor.Report
	ctx := parent
	if a.cfg.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, a.cfg.Deadline)
		defer cancel()
	}
	if a.exhausted() {
		rep.BudgetExhausted = true
		return nil, rep, advisor.ErrBudget
	}
	var errs []error
	valid := make([]*traj.Trajectory, 0, len(trajs))
	ids := map[string]bool{}
	for i := range trajs {
		t := &trajs[i]
		switch err := t.Validate(a.spec); {
		case err != nil:
			errs = append(errs, fmt.Errorf("llm: skipping trajectory: %w", err))
		case t.Len() == 0:
		case t.ID == "" || ids[t.ID]:
			errs = append(errs, fmt.Errorf("llm: skipping trajectory with empty or duplicate id %q", t.ID))
		default:
			ids[t.ID] = true
			valid = append(valid, t)
		}
	}
	rep.Trajectories = len(valid)

	batches := deal(valid, a.cfg.TrajectoriesPerRequest)
	results := make([]batchResult, len(batches))
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = a.runBatch(ctx, i, b, given)
		}()
	}
	wg.Wait()

	var anns []advisor.Annotation
	budget := false
	var unreachable error
	for i, r := range results {
		anns = append(anns, r.anns...)
		rep.Add(r.rep)
		switch {
		case r.err == nil:
		case errors.Is(r.err, ErrUnreachable):
			unreachable = r.err
		case errors.Is(r.err, advisor.ErrBudget):
			budget = true
		default:
			errs = append(errs, fmt.Errorf("llm: batch %d: %w", i, r.err))
		}
	}
	rep.Annotations = len(anns)
	rep.BudgetExhausted = a.exhausted()
	for _, err := range errs {
		a.log.Warn("llm: annotate", "err", err.Error())
	}
	if unreachable != nil && len(anns) == 0 {
		return anns, rep, a.scrubErr(unreachable) // one error, not one per batch
	}
	if budget {
		rep.BudgetExhausted = true
		a.log.Warn("llm: budget exhausted", "budget_requests", a.cfg.BudgetRequests, "budget_tokens", a.cfg.BudgetTokens)
		return anns, rep, advisor.ErrBudget
	}
	if parent.Err() != nil {
		return anns, rep, parent.Err()
	}
	if ctx.Err() != nil {
		return anns, rep, fmt.Errorf("llm: the deadline of %v passed with %d of %d batches unanswered (answered ones are cached: a rerun repeats only the rest; raise the deadline for larger jobs): %w",
			a.cfg.Deadline, rep.Failed, len(batches), ctx.Err())
	}
	return anns, rep, a.scrubErr(errors.Join(errs...))
}

// deal sorts trajectories by decreasing return and deals them round-robin
// into ceil(n/per) batches, so each batch spans the range of returns: batch
// b gets ranks b, b+nb, b+2nb, … (better and worse episodes to contrast).
func deal(trajs []*traj.Trajectory, per int) [][]*traj.Trajectory {
	if len(trajs) == 0 {
		return nil
	}
	sorted := append([]*traj.Trajectory(nil), trajs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Return > sorted[j].Return })
	nb := (len(sorted) + per - 1) / per
	out := make([][]*traj.Trajectory, nb)
	for i, t := range sorted {
		out[i%nb] = append(out[i%nb], t)
	}
	return out
}

type batchResult struct {
	anns []advisor.Annotation
	rep  advisor.Report
	err  error
}

// runBatch prompts for one batch and validates the answer. With given
// steps (AnnotateSteps) it shows them, supplies the identification and asks
// for the other two steps.
func (a *Advisor) runBatch(ctx context.Context, idx int, trajs []*traj.Trajectory, given map[*traj.Trajectory][]int) (res batchResult) {
	rep := &res.rep
	fail := func(err error) batchResult {
		rep.Failed++
		res.err = err
		return res
	}
	bp, err := a.prepareBatch(idx, trajs, given)
	if err != nil {
		return fail(err)
	}
	d, eps, batchID := bp.data, bp.eps, bp.id
	msgs := bp.msgs
	steps := []string{"single"}
	if a.cfg.Mode == ModeThree || given != nil {
		steps = []string{"identify", "suggest", "reward"}
	}
	var answer string
	for i, step := range steps {
		user, err := a.tmpl.render(step+".tmpl", d)
		if err != nil {
			return fail(err)
		}
		if i > 0 {
			msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: answer})
		}
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: user})
		if step == "identify" && given != nil {
			answer = givenStates(trajs, given) // the ablation's states, not the model's
			continue
		}
		if a.cfg.Mode == ModeAgentic && given == nil {
			answer, err = a.agentic(ctx, batchID, msgs, eps, rep)
		} else {
			answer, err = a.call(ctx, batchID, step, msgs, rep)
		}
		if err != nil {
			return fail(err)
		}
		if i < len(steps)-1 {
			// An intermediate answer must hold JSON for the next step to
			// build on; otherwise stop spending on this batch.
			if _, ok := extractJSON(answer); !ok {
				rep.Reject(rejNoJSON)
				rep.Failed++
				a.forget(msgs)
				a.log.Warn("llm: answer without JSON", "batch", batchID, "step", step)
				return res
			}
		}
	}
	anns, ok := parseAnswer(answer, eps, a.spec, a.cfg.MaxCritical, a.source, rep)
	if !ok {
		rep.Failed++
		a.forget(msgs)
		a.log.Warn("llm: unusable answer", "batch", batchID, "rejected", rep.Rejected)
		return res
	}
	if given != nil {
		asked := map[string]map[int]bool{}
		for _, t := range trajs {
			asked[t.ID] = map[int]bool{}
			for _, k := range given[t] {
				asked[t.ID][k] = true
			}
		}
		kept := anns[:0]
		for _, an := range anns {
			if asked[an.Episode][an.Step] {
				kept = append(kept, an)
			} else {
				rep.Reject(rejNotAsked)
			}
		}
		anns = kept
	}
	res.anns = anns
	return res
}

// batchPrompt is one batch's prompt material: the template data, the
// system message and the episodes shown (with the steps the model may cite).
type batchPrompt struct {
	id   string
	data promptData
	msgs []openai.ChatCompletionMessage // the system message
	eps  map[string]*shownEpisode
}

// prepareBatch summarises a batch's episodes (showing given steps, if any),
// adds the contrasts and renders the system message.
func (a *Advisor) prepareBatch(idx int, trajs []*traj.Trajectory, given map[*traj.Trajectory][]int) (*batchPrompt, error) {
	sums := make([]interpret.Summary, len(trajs))
	eps := make(map[string]*shownEpisode, len(trajs))
	for i, t := range trajs {
		s, err := interpret.Summarize(a.spec, t, interpret.Budget{MaxTokens: a.cfg.SummaryTokens, Include: given[t], Resolution: a.cfg.Summary})
		if err != nil {
			return nil, fmt.Errorf("summarizing %s: %w", t.ID, err)
		}
		sums[i] = s
		shown := make(map[int]bool, len(s.Steps))
		for _, k := range s.Steps {
			shown[k] = true
		}
		eps[t.ID] = &shownEpisode{traj: t, shown: shown}
	}
	d := batchData(a.base, trajs, sums)
	if a.cfg.Contrast {
		if err := a.addContrasts(&d, eps); err != nil {
			return nil, err
		}
	}
	sys, err := a.tmpl.render("system.tmpl", d)
	if err != nil {
		return nil, err
	}
	return &batchPrompt{id: fmt.Sprintf("b%d", idx), data: d, eps: eps,
		msgs: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleSystem, Content: sys}}}, nil
}

// addContrasts puts, under each failed episode in the lower half of the
// batch by return, the batch's best episode over the same steps as the
// failure window (the last interpret.DefaultDense steps), every
// ContrastEvery-th step; where the best episode is shorter, its own last
// steps (the same phase: the end of the episode). The steps shown become
// citable for the best episode.
func (a *Advisor) addContrasts(d *promptData, eps map[string]*shownEpisode) error {
	if len(d.Episodes) < 2 {
		return nil
	}
	best := &d.Episodes[0]
	bt := eps[best.ID].traj
	for i := (len(d.Episodes) + 1) / 2; i < len(d.Episodes); i++ {
		e := &d.Episodes[i]
		ft := eps[e.ID].traj
		if !failed(a.spec, ft) || e.Return >= best.Return {
			continue
		}
		n := ft.Len()
		from, to := max(0, n-interpret.DefaultDense), n-1
		what := fmt.Sprintf("the same steps %d-%d", from, to)
		if to >= bt.Len() {
			w := to - from
			to = bt.Len() - 1
			from = max(0, to-w)
			what = fmt.Sprintf("its own last steps %d-%d (it is shorter: the same phase, the end of the episode)", from, to)
		}
		// Align the stride to the window's end, so its last step is shown.
		every := a.cfg.ContrastEvery
		from += (to - from) % every
		text, steps, err := interpret.ShowSteps(a.spec, bt, from, to, every, 0, fmt.Sprintf("contrast with %s", e.ID))
		if err != nil {
			return fmt.Errorf("contrast of %s with %s: %w", e.ID, best.ID, err)
		}
		e.Contrast = fmt.Sprintf("Contrast: the best episode of this prompt, %q (return %.2f), over %s, every %s step:\n%s",
			best.ID, best.Return, what, ordinalEN(every), strings.TrimRight(text, "\n"))
		for _, k := range steps {
			eps[best.ID].shown[k] = true
		}
	}
	// The best episode's citable steps now include the contrast steps.
	ks := make([]int, 0, len(eps[best.ID].shown))
	for k := range eps[best.ID].shown {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	best.Steps, best.StepList = ks, joinInts(ks)
	best.Omitted = bt.Len() - len(ks)
	return nil
}

// failed reports whether an episode is a failure: a termination (for Pong,
// a lost game).
func failed(spec env.Spec, t *traj.Trajectory) bool {
	if spec.Action.IsDiscrete() {
		return t.Terminated && t.Return < 0
	}
	return t.Terminated
}

func joinInts(ks []int) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = strconv.Itoa(k)
	}
	return strings.Join(s, ", ")
}

// ordinalEN renders 3 → "3rd".
func ordinalEN(k int) string {
	switch {
	case k == 1:
		return "1st"
	case k%100 >= 11 && k%100 <= 13:
	case k%10 == 1:
		return strconv.Itoa(k) + "st"
	case k%10 == 2:
		return strconv.Itoa(k) + "nd"
	case k%10 == 3:
		return strconv.Itoa(k) + "rd"
	}
	return strconv.Itoa(k) + "th"
}

// givenStates is the identification answer for given steps, in the form
// identify.tmpl asks for.
func givenStates(trajs []*traj.Trajectory, given map[*traj.Trajectory][]int) string {
	type state struct {
		Episode string `json:"episode"`
		Step    int    `json:"step"`
		Reason  string `json:"reason"`
	}
	var out struct {
		Critical []state `json:"critical"`
	}
	out.Critical = []state{}
	for _, t := range trajs {
		for _, k := range given[t] {
			out.Critical = append(out.Critical, state{t.ID, k, "a state to judge"})
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// call sends one chat completion (or answers it from the cache) with
// retries, and accounts for it in rep.
// RequestObserver receives each request's outcome ("ok", "error",
// "timeout", "rate_limited", "cache_hit" or "budget"), its latency and the
// tokens it used, e.g. to export metrics.
type RequestObserver func(outcome string, latency time.Duration, promptTokens, completionTokens int)

// ObserveRequests sets the observer; call it before the first Annotate.
func (a *Advisor) ObserveRequests(f RequestObserver) { a.observe = f }

func (a *Advisor) observed(outcome string, latency time.Duration, prompt, completion int) {
	if a.observe != nil {
		a.observe(outcome, latency, prompt, completion)
	}
}

// outcomeOf classifies a failed request for RequestObserver.
func outcomeOf(err error, info *callInfo) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return "timeout"
	case statusOf(err, info) == http.StatusTooManyRequests:
		return "rate_limited"
	}
	return "error"
}

// forget drops the cached answer to msgs (asked without tools): an answer
// the parser could not use is not replayed by a rerun, which asks again.
// Agentic answers, cached per round trip, are kept.
func (a *Advisor) forget(msgs []openai.ChatCompletionMessage) {
	if a.cfg.Mode == ModeAgentic {
		return
	}
	if err := a.cache.forget(cacheKeyTools(&a.cfg, msgs, nil, nil)); err != nil {
		a.log.Warn("llm: cache", "err", a.scrub(err.Error()))
	}
}

func (a *Advisor) call(ctx context.Context, batchID, step string, msgs []openai.ChatCompletionMessage, rep *advisor.Report) (string, error) {
	m, err := a.callMsg(ctx, batchID, step, msgs, nil, nil, rep)
	return m.Content, err
}

// callMsg is call returning the whole answer message, tool calls
// included, for a request offering tools with the given tool_choice.
func (a *Advisor) callMsg(ctx context.Context, batchID, step string, msgs []openai.ChatCompletionMessage, tools []openai.Tool, choice any, rep *advisor.Report) (openai.ChatCompletionMessage, error) {
	cfg := &a.cfg
	auditMsgs := make([]message, len(msgs))
	var promptText strings.Builder
	for i, m := range msgs {
		auditMsgs[i] = message{Role: m.Role, Content: m.Content, ToolCalls: m.ToolCalls, ToolCallID: m.ToolCallID}
		promptText.WriteString(m.Content)
		for _, tc := range m.ToolCalls {
			promptText.WriteString(tc.Function.Name + tc.Function.Arguments)
		}
		promptText.WriteByte('\n')
	}
	if len(tools) > 0 {
		def, _ := json.Marshal(tools)
		promptText.Write(def) // the tool definition is part of the prompt
	}
	estPrompt := interpret.EstimateTokens(promptText.String())
	key := cacheKeyTools(cfg, msgs, tools, choice)
	id := fmt.Sprintf("%s-%d-%s-%s", a.instance, a.seq.Add(1), batchID, step)

	rec := auditRecord{RequestID: id, Model: cfg.Model, Step: step, Messages: auditMsgs}
	writeAudit := func(r auditRecord) {
		r.Time = time.Now().UTC()
		if err := a.audit.write(r); err != nil {
			a.log.Warn("llm: audit log", "err", a.scrub(err.Error()))
		}
	}

	if e, ok, err := a.cache.get(key); err != nil {
		a.log.Warn("llm: cache", "err", a.scrub(err.Error()))
	} else if ok {
		rep.CacheHits++
		r := rec
		r.CacheHit, r.Answer, r.ToolCalls, r.Usage, r.JSONMode = true, e.Answer, e.ToolCalls, e.Usage, cfg.JSONMode
		writeAudit(r)
		a.observed("cache_hit", 0, 0, 0)
		return openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: e.Answer, ToolCalls: e.ToolCalls}, nil
	}

	for attempt := 0; ; attempt++ {
		jsonMode := cfg.JSONMode && !a.noJSONMode.Load()
		req := a.request(msgs, jsonMode)
		req.Tools, req.ToolChoice = tools, choice

		est := estPrompt + cfg.MaxTokens
		taken, err := a.waitTurn(ctx, est)
		if err != nil {
			return openai.ChatCompletionMessage{}, err
		}
		// The budget is checked with a concurrency slot held, so it sees
		// the usage of every request that finished before this one and the
		// reservations of those in flight.
		if !a.reserve(est) {
			<-a.sem
			a.tpm.adjust(-taken)
			a.observed("budget", 0, 0, 0)
			return openai.ChatCompletionMessage{}, advisor.ErrBudget
		}
		info := &callInfo{retryAfter: -1}
		actx, cancel := context.WithTimeout(context.WithValue(ctx, callInfoKey{}, info), cfg.Timeout)
		start := time.Now()
		resp, err := a.client.CreateChatCompletion(actx, req)
		latency := time.Since(start)
		cancel()
		rep.Requests++

		r := rec
		r.Attempt, r.JSONMode = attempt, jsonMode
		r.LatencyMS = float64(latency.Microseconds()) / 1000
		if err == nil {
			a.reached.Store(true)
			var answer, finish string
			var calls []openai.ToolCall
			if len(resp.Choices) > 0 {
				// Scrubbed at once, so the key cannot reach annotations,
				// the cache or the audit log through an answer.
				answer = a.scrub(resp.Choices[0].Message.Content)
				finish = string(resp.Choices[0].FinishReason)
				if len(tools) > 0 {
					calls = a.scrubCalls(resp.Choices[0].Message.ToolCalls)
				}
			}
			callText := ""
			for _, tc := range calls {
				callText += tc.Function.Name + tc.Function.Arguments
			}
			u, ok := checkUsage(resp.Usage, promptText.Len(), len(msgs), estPrompt, cfg.MaxTokens, answer+callText)
			if !ok {
				rep.Reject(rejBadUsage)
				a.log.Warn("llm: the server reported impossible usage; booking estimates", "request_id", id,
					"prompt_tokens", resp.Usage.PromptTokens, "completion_tokens", resp.Usage.CompletionTokens)
			}
			rep.PromptTokens += u.PromptTokens
			rep.CompletionTokens += u.CompletionTokens
			a.spend(est, u.total())
			a.tpm.adjust(float64(u.total()) - taken)
			// Release the slot only once the usage is booked, so the next
			// request's budget check sees it (no overshoot at concurrency 1).
			<-a.sem
			r.ResponseID, r.Answer, r.ToolCalls, r.Finish, r.Usage = resp.ID, answer, calls, finish, u
			writeAudit(r)
			a.observed("ok", latency, u.PromptTokens, u.CompletionTokens)
			if finish == string(openai.FinishReasonLength) {
				a.log.Warn("llm: answer cut at max_tokens", "request_id", id, "max_tokens", cfg.MaxTokens)
			}
			if answer != "" || len(calls) > 0 {
				if err := a.cache.put(cacheEntry{Key: key, Model: cfg.Model, Time: time.Now().UTC(), Answer: answer, ToolCalls: calls, Usage: u}); err != nil {
					a.log.Warn("llm: cache", "err", a.scrub(err.Error()))
				}
			}
			a.log.Debug("llm: answer", "request_id", id, "latency", latency, "prompt_tokens", u.PromptTokens, "completion_tokens", u.CompletionTokens, "tool_calls", len(calls))
			return openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: answer, ToolCalls: calls}, nil
		}

		a.spend(est, 0)
		<-a.sem
		a.tpm.adjust(-taken) // nothing (known to be) consumed
		serr := a.scrubErr(err)
		r.Error = serr.Error()
		writeAudit(r)
		a.observed(outcomeOf(err, info), latency, 0, 0)
		if ctx.Err() != nil {
			return openai.ChatCompletionMessage{}, ctx.Err()
		}
		if jsonMode && statusOf(err, info) == http.StatusBadRequest && mentionsResponseFormat(err) {
			a.noJSONMode.Store(true)
			a.log.Info("llm: endpoint rejects response_format; retrying without JSON mode", "request_id", id)
			attempt-- // does not count as a retry; happens at most once
			continue
		}
		if statusOf(err, info) > 0 {
			a.reached.Store(true)
		} else if errors.Is(err, syscall.ECONNREFUSED) && !a.reached.Load() {
			return openai.ChatCompletionMessage{}, fmt.Errorf("%w: nothing listens at %s (connection refused); start the server there, or give its address with --llm-url (llm-config base_url)",
				ErrUnreachable, cfg.BaseURL)
		}
		retry, wait := retryDecision(err, info)
		if !retry || attempt >= cfg.MaxRetries {
			return openai.ChatCompletionMessage{}, fmt.Errorf("%s request %s failed after %d attempt(s): %w", step, id, attempt+1, serr)
		}
		if wait < 0 {
			wait = backoff(cfg.BackoffBase, cfg.BackoffMax, attempt)
		} else {
			wait = min(wait, cfg.MaxRetryAfter)
		}
		a.log.Warn("llm: request failed; retrying", "request_id", id, "attempt", attempt+1, "wait", wait, "status", statusOf(err, info), "err", serr.Error())
		if err := sleep(ctx, wait); err != nil {
			return openai.ChatCompletionMessage{}, err
		}
	}
}

// checkUsage returns the usage to book for an answer. A server that reports
// none gets estimates (not an error). Figures that are negative, or beyond
// what the request could use — more prompt tokens than the prompt has bytes
// (plus framing), more completion tokens than twice max_tokens or the
// answer's bytes — are a protocol error (ok false): they would wrap the
// counters and disable the budget, so the estimate is booked instead.
func checkUsage(got openai.Usage, promptBytes, messages, estPrompt, maxTokens int, answer string) (u usage, ok bool) {
	if got.PromptTokens == 0 && got.CompletionTokens == 0 {
		return usage{estPrompt, interpret.EstimateTokens(answer)}, true
	}
	u, ok = usage{got.PromptTokens, got.CompletionTokens}, true
	if u.PromptTokens < 0 || u.PromptTokens > promptBytes+16*messages+1024 {
		u.PromptTokens, ok = estPrompt, false
	}
	if u.CompletionTokens < 0 || u.CompletionTokens > max(2*maxTokens, len(answer))+1024 {
		u.CompletionTokens, ok = interpret.EstimateTokens(answer), false
	}
	return u, ok
}

// request is the chat-completion request for msgs under the config.
func (a *Advisor) request(msgs []openai.ChatCompletionMessage, jsonMode bool) openai.ChatCompletionRequest {
	cfg := &a.cfg
	req := openai.ChatCompletionRequest{Model: cfg.Model, Messages: msgs}
	if reasoningModel(cfg.Model) {
		req.MaxCompletionTokens = cfg.MaxTokens
	} else {
		req.MaxTokens = cfg.MaxTokens
		req.Temperature = float32(cfg.Temperature)
	}
	if jsonMode {
		req.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	}
	return req
}

// waitTurn waits for the rate limiters and a concurrency slot (released by
// the caller with <-a.sem). It returns the tokens taken from the token
// limiter, to be corrected by the actual usage.
func (a *Advisor) waitTurn(ctx context.Context, estTokens int) (float64, error) {
	if _, err := a.rpm.wait(ctx, 1); err != nil {
		return 0, err
	}
	taken, err := a.tpm.wait(ctx, float64(estTokens))
	if err != nil {
		return 0, err
	}
	select {
	case a.sem <- struct{}{}:
		return taken, nil
	case <-ctx.Done():
		a.tpm.adjust(-taken)
		return 0, ctx.Err()
	}
}
