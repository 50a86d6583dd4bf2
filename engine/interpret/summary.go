package interpret

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Budget defaults.
const (
	DefaultMaxTokens = 2000 // Budget.MaxTokens when ≤ 0
	DefaultNearEnd   = 10   // Budget.NearEnd when 0
)

// Budget controls how a trajectory is summarised. The zero value takes
// every default.
type Budget struct {
	// MaxTokens bounds the summary's estimated tokens (EstimateTokens);
	// ≤ 0 means DefaultMaxTokens.
	MaxTokens int
	// Every keeps every k-th step (0, k, 2k, …). 0 chooses the smallest k
	// that fits; a positive value is the smallest stride tried, raised
	// further if the text does not fit.
	Every int
	// NearEnd keeps the last NearEnd steps of an episode that terminated
	// (not one that was truncated); 0 means DefaultNearEnd, < 0 none.
	NearEnd int
	// RewardJump keeps every step whose reward differs from the previous
	// step's by more than this; 0 means 2 × the population standard
	// deviation of the trajectory's rewards, < 0 keeps none. Pong ignores
	// it: its rewards are the points (±1), and every step that scored one
	// is kept.
	RewardJump float64
	// Include lists steps that must be shown, as required steps are (for
	// asking about given states, e.g. the identification ablation).
	// Indices outside the episode are ignored.
	Include []int

	// Resolution is ResolutionStride ("" too: the original summary) or
	// ResolutionMulti. The fields below apply to ResolutionMulti only;
	// there, Every, NearEnd and RewardJump are unused.
	Resolution string
	// Dense is how many steps before a failure (a termination; for Pong a
	// lost game) are shown one by one; 0 means DefaultDense, < 0 none.
	Dense int
	// Medium is the window before the dense one shown every MediumEvery-th
	// step; 0 means DefaultMedium, < 0 none. MediumEvery ≤ 0 means
	// DefaultMediumEvery.
	Medium, MediumEvery int
}

// Summary is a trajectory rendered to text.
type Summary struct {
	// Text is a header (episode id, length, return, how it ended), the kept
	// step lines (describeStep) and a final line stating exactly what was
	// left out.
	Text string
	// Steps are the indices of the steps shown, ascending; an advisor may
	// only name these.
	Steps []int
	// Omitted is the number of steps not shown: Len() - len(Steps).
	Omitted int
	// Tokens is EstimateTokens(Text).
	Tokens int
	// Reasons says, at ResolutionMulti, why each shown step was chosen
	// (the tags of its line); nil for ResolutionStride.
	Reasons map[int][]string
}

// EstimateTokens approximates an LLM tokenizer's count as one token per 4
// bytes of UTF-8, rounded up: about 4 characters per token for English and
// numbers, and more tokens for non-ASCII symbols such as "°" and "·" (2
// bytes each), which tokenizers also split finely.
func EstimateTokens(s string) int { return (len(s) + 3) / 4 }

// Summarize renders a trajectory within b. It keeps, in order of priority,
// the required steps — the first and last step, the last NearEnd steps
// before a termination and the steps where the reward jumps by more than
// RewardJump (for pong: every step that scored a point) — and every k-th
// step, choosing the smallest k ≥ Every whose
// text fits MaxTokens. If even the required steps do not fit, it drops the
// oldest of them until the text fits (possibly showing no step at all) and
// says so. The final line states the selection rule and the number of
// omitted steps, e.g. "(shown 42 of 160 steps: every 4th step from step 0,
// …; 118 of 160 steps omitted)".
func Summarize(spec env.Spec, tr *traj.Trajectory, b Budget) (Summary, error) {
	t, err := lookup(spec)
	if err != nil {
		return Summary{}, err
	}
	if tr == nil {
		return Summary{}, errors.New("interpret: nil trajectory")
	}
	if err := tr.Validate(spec); err != nil {
		return Summary{}, fmt.Errorf("interpret: %w", err)
	}
	n := tr.Len()
	if n == 0 {
		return Summary{}, fmt.Errorf("interpret: trajectory %s has no steps", tr.ID)
	}
	maxTok := b.MaxTokens
	if maxTok <= 0 {
		maxTok = DefaultMaxTokens
	}
	if err := CheckResolution(b.Resolution); err != nil {
		return Summary{}, err
	}
	if b.Resolution == ResolutionMulti {
		return t.multiSummary(tr, b, maxTok), nil
	}
	nearEnd := b.NearEnd
	if nearEnd == 0 {
		nearEnd = DefaultNearEnd
	}
	if nearEnd < 0 || !tr.Terminated {
		nearEnd = 0
	}
	nearEnd = min(nearEnd, n)
	kmin := max(b.Every, 1)

	// Reward statistics and jumps.
	mean, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
	for _, r := range tr.Rewards {
		mean += float64(r)
		lo, hi = min(lo, float64(r)), max(hi, float64(r))
	}
	mean /= float64(n)
	var ss float64
	for _, r := range tr.Rewards {
		ss += (float64(r) - mean) * (float64(r) - mean)
	}
	thr := b.RewardJump
	if thr == 0 {
		thr = 2 * math.Sqrt(ss/float64(n))
	}
	// Which steps are required is a rule, not a stored set, so that a
	// million-step episode costs no memory beyond what the budget can show.
	isJump := func(k int) bool {
		if t.pong != nil { // Pong's rewards are the points: every one is a jump.
			return tr.Rewards[k] != 0
		}
		return k > 0 && thr > 0 && !math.IsInf(thr, 1) && math.Abs(float64(tr.Rewards[k])-float64(tr.Rewards[k-1])) > thr
	}
	include := make(map[int]bool, len(b.Include))
	for _, k := range b.Include {
		include[k] = true
	}
	isRequired := func(k int) bool { return k == 0 || k == n-1 || k >= n-nearEnd || isJump(k) || include[k] }

	// No text longer than maxBytes fits, and every step line is at least
	// minLineBytes long, so no selection of more than maxLines steps fits.
	maxBytes := 4 * maxTok // EstimateTokens(text) ≤ maxTok ⟺ len(text) ≤ 4·maxTok
	maxLines := maxBytes / minLineBytes
	nJumps, nReq := 0, 0
	var head []int // the oldest required steps, for naming dropped ones
	for k := 0; k < n; k++ {
		if isJump(k) {
			nJumps++
		}
		if isRequired(k) {
			nReq++
			if len(head) < 4 {
				head = append(head, k)
			}
		}
	}
	// Keep only the newest maxLines+1 required steps: the older ones could
	// only ever be dropped (see the last phase).
	required := make([]int, min(nReq, maxLines+1))
	for k, i := n-1, len(required)-1; i >= 0; k-- {
		if isRequired(k) {
			required[i] = k
			i--
		}
	}
	skipped := nReq - len(required)

	header := t.header(tr, mean, lo, hi)
	lines := map[int]string{}
	line := func(k int) string {
		l, ok := lines[k]
		if !ok {
			if len(lines) > 4*maxLines+64 { // bound the cache too
				clear(lines)
			}
			l = t.step(k, tr.ObsAt(k), tr.ActionAt(k), float64(tr.Rewards[k]))
			lines[k] = l
		}
		return l
	}
	sel := selection{n: n, nearEnd: nearEnd, jumps: nJumps, thr: thr, points: t.pong != nil, maxTok: maxTok}
	for k := range include {
		if k >= 0 && k < n {
			sel.included++
		}
	}
	// render returns the text for steps, or false as soon as it is longer
	// than the budget (unless force).
	render := func(steps []int, force bool) (string, bool) {
		if !force && len(steps) > maxLines {
			return "", false
		}
		footer := sel.footer(len(steps))
		var sb strings.Builder
		sb.WriteString(header)
		for _, k := range steps {
			if !force && sb.Len()+len(footer) > maxBytes {
				return "", false
			}
			sb.WriteString(line(k))
			sb.WriteByte('\n')
		}
		sb.WriteString(footer)
		return sb.String(), force || sb.Len() <= maxBytes
	}
	done := func(steps []int, text string) (Summary, error) {
		return Summary{Text: text, Steps: steps, Omitted: n - len(steps), Tokens: EstimateTokens(text)}, nil
	}
	fits := func(k int) (Summary, bool) {
		steps := merge(required, k, n)
		sel.every = k
		text, ok := render(steps, false)
		if !ok {
			return Summary{}, false
		}
		sum, _ := done(steps, text)
		return sum, true
	}

	// The smallest stride that fits, trying strides in turn from the
	// smallest that could (ceil(n/maxLines) steps); k ≥ n keeps only step
	// 0 of the stride. Past linearStrides tries (only very long episodes
	// get there) the stride is found by bisection, taking the text's
	// length as non-increasing in k, which holds up to the odd step line.
	if skipped == 0 && maxLines > 0 {
		k := max(kmin, (n+maxLines-1)/maxLines)
		for tries := 0; ; tries++ {
			if sum, ok := fits(k); ok {
				return sum, nil
			}
			if k >= n {
				break
			}
			if tries == linearStrides {
				if _, ok := fits(n); !ok {
					break
				}
				lo, hi := k, n // fits(lo) fails, fits(hi) holds
				for hi-lo > 1 {
					if mid := lo + (hi-lo)/2; func() bool { _, ok := fits(mid); return ok }() {
						hi = mid
					} else {
						lo = mid
					}
				}
				sum, _ := fits(hi)
				return sum, nil
			}
			k++
		}
	}
	// Even the required steps do not fit: drop the oldest. The first
	// skipped of them are dropped in any case (more than maxLines would be
	// left).
	sel.every = 0
	for d := 1; d <= len(required); d++ {
		steps := required[d:]
		sel.dropped, sel.droppedSteps = skipped+d, droppedSteps(head, required, skipped, skipped+d)
		if text, ok := render(steps, d == len(required)); ok {
			return done(steps, text)
		}
	}
	// No required step at all is impossible (step 0 always is one).
	return Summary{}, fmt.Errorf("interpret: trajectory %s: no summary fits %d tokens", tr.ID, maxTok)
}

// minLineBytes is the shortest a step line can be, with its newline:
// "step 0: " + the observation + "; action " + the action + "; reward 0.00".
const minLineBytes = len("step 0: ; action ; reward 0.00\n")

// linearStrides is how many strides Summarize tries one by one before
// bisecting.
const linearStrides = 64

// droppedSteps names the oldest d required steps, given the first few of
// them (head) and the newest ones (newest, which start after skipped).
func droppedSteps(head, newest []int, skipped, d int) string {
	if d <= len(head) {
		return stepList(head[:d])
	}
	return fmt.Sprintf("steps %d to %d", head[0], newest[d-1-skipped]) // as stepList names more than four
}

// merge returns required ∪ {0, k, 2k, …} below n, ascending.
func merge(required []int, k, n int) []int {
	out := make([]int, 0, len(required)+n/k+1)
	r := 0
	for s := 0; s < n; s += k {
		for r < len(required) && required[r] < s {
			out = append(out, required[r])
			r++
		}
		if r < len(required) && required[r] == s {
			r++
		}
		out = append(out, s)
	}
	return append(out, required[r:]...)
}

// header is the summary's opening: episode, length, return, how it ended,
// reward statistics and how to read the step lines.
func (t *task) header(tr *traj.Trajectory, mean, lo, hi float64) string {
	n := tr.Len()
	var end string
	switch {
	case tr.Terminated && t.pong != nil:
		end = fmt.Sprintf("terminated after step %d: the game ended (one side won)", n-1)
	case tr.Terminated:
		end = fmt.Sprintf("terminated after step %d (the state after it was unhealthy: a failure)", n-1)
	case tr.Truncated:
		end = fmt.Sprintf("truncated after step %d by the %d-step time limit (not a failure)", n-1, t.maxSteps)
	default:
		end = fmt.Sprintf("recorded up to step %d without terminating or being truncated", n-1)
	}
	points := ""
	if t.pong != nil {
		won, lost := 0, 0
		for _, r := range tr.Rewards {
			switch {
			case r > 0:
				won++
			case r < 0:
				lost++
			}
		}
		points = fmt.Sprintf(" (points won %d, lost %d)", won, lost)
	}
	return fmt.Sprintf("Episode %s (%s): %d steps, return %s%s, %s.\nReward per step: mean %s, min %s, max %s. Each step line gives the state before the step, the action taken and the reward it earned.\n",
		tr.ID, t.id, n, fixed(tr.Return, 2), points, end, fixed(mean, 2), fixed(lo, 2), fixed(hi, 2))
}

// selection describes how steps were chosen, for the final line.
type selection struct {
	n, nearEnd, jumps int
	thr               float64
	points            bool // the jumps are pong's scoring steps
	maxTok            int
	included          int    // steps shown because they were asked about (Budget.Include)
	every             int    // stride; 0 when only required steps remain
	dropped           int    // required steps dropped to fit, the oldest
	droppedSteps      string // their names (stepList)
}

// footer states what was shown and what was left out.
func (s selection) footer(shown int) string {
	var rules []string
	switch {
	case s.every == 1:
		rules = append(rules, "every step")
	case s.every > 1 && s.every < s.n:
		rules = append(rules, fmt.Sprintf("every %s step from step 0", ordinal(s.every)))
	}
	if s.every != 1 {
		first := "the first and last steps"
		if s.dropped > 0 {
			first = "only required steps — " + first
		}
		rules = append(rules, first)
		if s.nearEnd > 0 {
			rules = append(rules, fmt.Sprintf("the last %d steps before termination (%d-%d)", s.nearEnd, s.n-s.nearEnd, s.n-1))
		}
		if s.included > 0 {
			rules = append(rules, fmt.Sprintf("the %d %s asked about", s.included, plural(s.included, "step", "steps")))
		}
		if s.jumps > 0 && s.points {
			rules = append(rules, fmt.Sprintf("the %d %s where a point was scored (reward ±1)", s.jumps, plural(s.jumps, "step", "steps")))
		} else if s.jumps > 0 {
			rules = append(rules, fmt.Sprintf("%d %s where the reward changed by more than %s from the previous step", s.jumps, plural(s.jumps, "step", "steps"), fixed(s.thr, 2)))
		}
	}
	drop := ""
	if d := s.dropped; d > 0 {
		drop = fmt.Sprintf("; the budget of %d tokens could not hold them all, so the %d oldest required %s (%s) %s dropped",
			s.maxTok, d, plural(d, "step", "steps"), s.droppedSteps, plural(d, "was", "were"))
		if shown == 0 {
			drop += ", leaving no step shown"
		}
	}
	return fmt.Sprintf("(shown %d of %d steps: %s%s; %d of %d steps omitted)", shown, s.n, strings.Join(rules, ", "), drop, s.n-shown, s.n)
}

// stepList names ascending steps: "step 5", "steps 0, 12 and 465", or
// for more than four "steps 0 to 465" (not all of them in between).
func stepList(ks []int) string {
	switch len(ks) {
	case 0:
		return "none"
	case 1:
		return fmt.Sprintf("step %d", ks[0])
	}
	if len(ks) > 4 {
		return fmt.Sprintf("steps %d to %d", ks[0], ks[len(ks)-1])
	}
	parts := make([]string, len(ks)-1)
	for i, k := range ks[:len(ks)-1] {
		parts[i] = strconv.Itoa(k)
	}
	return fmt.Sprintf("steps %s and %d", strings.Join(parts, ", "), ks[len(ks)-1])
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ordinal renders 2 → "2nd", 11 → "11th", 23 → "23rd".
func ordinal(k int) string {
	suf := "th"
	if k%100 < 11 || k%100 > 13 {
		switch k % 10 {
		case 1:
			suf = "st"
		case 2:
			suf = "nd"
		case 3:
			suf = "rd"
		}
	}
	return fmt.Sprintf("%d%s", k, suf)
}
