package interpret

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Resolutions of a summary (Budget.Resolution).
const (
	// ResolutionStride shows every k-th step of the whole episode plus the
	// required steps (the first and last, the last NearEnd before a
	// termination, reward jumps): the original summary.
	ResolutionStride = "stride"
	// ResolutionMulti shows the steps before a failure one by one (dense),
	// a medium stride over the window before that, the task's physical
	// events (local minima of each safety margin, the step from which a
	// margin shrinks for good; for Pong ball crossings, returns and the
	// last chance before each lost point) and a sparse stride elsewhere.
	// Every step line says why the step was chosen.
	ResolutionMulti = "multi"
)

// Multi-resolution defaults.
const (
	DefaultDense       = 30 // Budget.Dense when 0
	DefaultMedium      = 60 // Budget.Medium when 0
	DefaultMediumEvery = 3  // Budget.MediumEvery when 0
	// maxEventsPerMargin bounds the local minima kept per safety margin.
	maxEventsPerMargin = 12
	// minimumHalfWidth is how many steps on each side a local minimum must
	// be the lowest of.
	minimumHalfWidth = 5
	// eventShare is the share of the room left after the dense window that
	// event steps may take before the medium stride is placed.
	eventShare = 0.5
)

// CheckResolution reports an unknown resolution, naming the valid ones.
func CheckResolution(r string) error {
	switch r {
	case "", ResolutionStride, ResolutionMulti:
		return nil
	}
	return fmt.Errorf("interpret: unknown summary resolution %q (valid: %s, %s)", r, ResolutionMulti, ResolutionStride)
}

// event is a step worth showing found from the task's physics.
type event struct {
	step   int
	rank   float64 // lower is shown first
	reason string
}

// margin is one safety margin of a task over an episode, computed from
// each step's observation on demand (nothing per step is stored, so the
// memory a summary takes does not grow with the episode).
type margin struct {
	name  string // "height margin"
	unit  string // "m", "°"
	limit string // what it measures the distance to
	flip  bool   // the pitch left before the robot lies on its back
	at    func(k int) float64
}

// margins returns the task's safety margins, from its description: the
// distance to each finite bound of its healthy ranges, angles first
// (planar walkers: torso pitch, then height), and the pitch left before a
// robot that can flip lies on its back (halfcheetah: 90°). Pong has none.
func (t *task) margins(tr *traj.Trajectory) []margin {
	if t.body == nil {
		return nil
	}
	var out []margin
	add := func(name, unit, limit string, flip bool, f func(o []float32) float64) {
		out = append(out, margin{name: name, unit: unit, limit: limit, flip: flip, at: func(k int) float64 { return f(tr.ObsAt(k)) }})
	}
	to := t.body.Torso
	for _, b := range t.body.Healthy.Bounds {
		r, i := b.Range, b.Obs
		if !b.IsAngle() || math.IsInf(r[0], -1) || math.IsInf(r[1], 1) {
			continue
		}
		name, limit := b.Quantity+" margin", fmt.Sprintf("the ±%s° %s limit", fixed(deg(r[1]), 1), b.Quantity)
		if i == to.Pitch {
			name, limit = "pitch margin", fmt.Sprintf("the ±%s° pitch limit", fixed(deg(r[1]), 1))
		}
		add(name, "°", limit, false, func(o []float32) float64 {
			p := float64(o[i])
			return deg(min(p-r[0], r[1]-p))
		})
	}
	if flip := t.body.Flip; flip > 0 && to.Pitch != env.NoObs {
		add("flip margin", "°", fmt.Sprintf("flipping onto its back (|pitch| %s°)", num(deg(flip))), true, func(o []float32) float64 {
			return deg(flip) - math.Abs(wrapDeg(deg(float64(o[to.Pitch]))))
		})
	}
	for _, b := range t.body.Healthy.Bounds {
		r, i := b.Range, b.Obs
		if b.IsAngle() {
			continue
		}
		lower, lowLimit := b.Quantity+" margin", fmt.Sprintf("the %%s %s lower %s limit", b.Unit, b.Quantity)
		upper, upLimit := b.Quantity+" headroom", fmt.Sprintf("the %%s %s upper %s limit", b.Unit, b.Quantity)
		if i == to.Height {
			lower, lowLimit, upper, upLimit = "height margin", "the %s m fall limit", "headroom", "the %s m upper height limit"
		}
		if !math.IsInf(r[0], -1) {
			add(lower, b.Unit, fmt.Sprintf(lowLimit, num(r[0])), false, func(o []float32) float64 { return float64(o[i]) - r[0] })
		}
		if !math.IsInf(r[1], 1) {
			add(upper, b.Unit, fmt.Sprintf(upLimit, num(r[1])), false, func(o []float32) float64 { return r[1] - float64(o[i]) })
		}
	}
	return out
}

// eventSet keeps the most telling events, at most limit of them (the
// summary could not show more), in memory bounded by limit: once full,
// it refuses events that rank no better than the worst it keeps (callers
// ask wants before formatting a reason), so what a long episode
// allocates does not grow with its length. Of events of equal rank, the
// first found are kept.
type eventSet struct {
	limit int
	evs   []event
	full  bool    // a trim left limit events
	cut   float64 // then, the worst rank kept
}

// wants reports whether an event of this rank could be kept.
func (s *eventSet) wants(rank float64) bool { return !s.full || rank < s.cut }

func (s *eventSet) add(e event) {
	if !s.wants(e.rank) {
		return
	}
	s.evs = append(s.evs, e)
	if len(s.evs) > 4*s.limit+64 {
		s.trim()
	}
}

// trim sorts the events, most telling first (then the latest), and keeps
// the first limit.
func (s *eventSet) trim() {
	sort.SliceStable(s.evs, func(i, j int) bool {
		if s.evs[i].rank != s.evs[j].rank {
			return s.evs[i].rank < s.evs[j].rank
		}
		return s.evs[i].step > s.evs[j].step
	})
	if len(s.evs) >= s.limit {
		s.evs = s.evs[:s.limit]
		s.full, s.cut = true, s.evs[s.limit-1].rank
	}
}

// events finds the steps the task's physics marks, the limit most telling
// first: for each safety margin its local minima (the lowest within
// ±minimumHalfWidth steps, ranked by how low they are within the
// episode's range), the step before each minimum where the margin fell
// fastest and, in an episode that failed, the last step the margin was at
// or above its episode mean before shrinking for good; for halfcheetah
// its flips (flips); for Pong the steps of each rally (pongEvents).
func (t *task) events(tr *traj.Trajectory, limit int) []event {
	set := &eventSet{limit: max(limit, 1)}
	if t.pong != nil {
		t.pongEvents(tr, set)
		set.trim()
		return set.evs
	}
	n := tr.Len()
	for _, m := range t.margins(tr) {
		v := m.at
		lo, hi, mean := math.Inf(1), math.Inf(-1), 0.0
		for k := range n {
			x := v(k)
			lo, hi, mean = min(lo, x), max(hi, x), mean+x
		}
		mean /= float64(n)
		span := hi - lo
		if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
			continue
		}
		mins := &eventSet{limit: maxEventsPerMargin}
		for k := 1; k < n-1; k++ {
			x := v(k)
			if !(x < v(k-1)) || x < 0 { // below 0 the limit is already passed
				continue
			}
			low := true
			for j := max(0, k-minimumHalfWidth); j < min(n, k+minimumHalfWidth+1) && low; j++ {
				if y := v(j); y < x || (y == x && j < k) {
					low = false
				}
			}
			if r := 1 + (x-lo)/span; low && mins.wants(r) {
				mins.add(event{k, r, fmt.Sprintf("%s local minimum: %s to %s", m.name, m.format(x), m.limit)})
			}
		}
		mins.trim()
		for _, e := range mins.evs {
			set.add(e)
			// The step the margin falls fastest on the way into the
			// minimum: where the action that led there was taken.
			k, best, drop := e.step, -1, 0.0
			for j := max(0, k-2*minimumHalfWidth); j < k; j++ {
				if d := v(j) - v(j+1); d > drop {
					best, drop = j, d
				}
			}
			if best >= 0 && m.format(drop) != m.format(0) && set.wants(e.rank+0.005) { // a fall too small to print is none
				set.add(event{best, e.rank + 0.005, fmt.Sprintf("%s falls fastest here (%s in one step) toward its minimum at step %d",
					m.name, m.format(drop), k)})
			}
		}
		if m.flip {
			flips(n, v, set)
		}
		if tr.Terminated && n > 2 && v(n-1) < mean {
			last := -1
			for k := n - 1; k >= 0; k-- {
				if v(k) >= mean {
					last = k
					break
				}
			}
			if last >= 0 && last < n-1 {
				set.add(event{last, 0, fmt.Sprintf("%s shrinks for good after this step: %s here, below its episode mean %s from the next step to the end",
					m.name, m.format(v(last)), m.format(mean))})
			}
		}
	}
	set.trim()
	return set.evs
}

// flipWindow is how many steps before a halfcheetah flip are events.
const flipWindow = 10

// flips emits, from the flip margin v (90° − |pitch|) of n steps, each
// step the cheetah flips onto its back (the margin turns negative: its
// failure, though the episode goes on) and the flipWindow steps before
// it, and each step it rights itself again; the first flips rank first.
func flips(n int, v func(int) float64, set *eventSet) {
	nflip := 0
	for k := 1; k < n; k++ {
		a, b := v(k-1), v(k)
		switch {
		case a >= 0 && b < 0:
			r := 0.1 * float64(nflip)
			nflip++
			if set.wants(r) {
				set.add(event{k, r, fmt.Sprintf("flips onto its back here (flip %d)", nflip)})
			}
			for j := max(0, k-flipWindow); j < k && set.wants(r+0.05); j++ {
				set.add(event{j, r + 0.05, fmt.Sprintf("%d before flip %d", k-j, nflip)})
			}
		case a < 0 && b >= 0:
			set.add(event{k, 2, "rights itself here (off its back)"})
		}
	}
}

// format renders a margin value with its unit: "0.12 m", "7.9°".
func (m margin) format(v float64) string {
	if m.unit == "°" {
		return fixed(v, 1) + "°"
	}
	return fixed(v, 2) + " " + m.unit
}

// pongEvents emits, for every rally: the step the ball crosses the centre
// line toward the agent, the agent's returns, and before each lost point
// the last step at which the ball's intercept with the paddle line was
// still reachable in time (or, when it never was, the first step it was
// out of reach) and the step the ball passed the paddle. States are read
// from the observations on demand.
func (t *task) pongEvents(tr *traj.Trajectory, set *eventSet) {
	n := tr.Len()
	g, skip := t.pong, t.info.FrameSkip
	st := func(k int) env.PongState { return g.Read(tr.ObsAt(k)) }
	travel := g.StepTravel(skip)
	reachable := func(s env.PongState) (bool, bool) {
		frames, row, _, ok := g.Intercept(s)
		if !ok {
			return false, false
		}
		gap := math.Max(0, math.Abs(row-s.AgentY)-float64(g.PaddleH)/2)
		return gap <= travel*frames/float64(skip), true
	}
	for j, r := range tr.Rewards {
		if r >= 0 {
			continue
		}
		last, firstOut, passed := -1, -1, -1
		for k := j; k >= 0; k-- {
			s := st(k)
			ok, flying := reachable(s)
			if !flying {
				if !s.BallInPlay || s.BallVX <= 0 || firstOut >= 0 || last >= 0 {
					break
				}
				passed = k // the ball is past the paddle line
				continue
			}
			if ok {
				last = k
				break
			}
			firstOut = k
		}
		switch {
		case !set.wants(0):
		case last >= 0:
			set.add(event{last, 0, fmt.Sprintf("miss: the last step the ball's intercept was reachable before the point lost at step %d", j)})
		case firstOut >= 0:
			set.add(event{firstOut, 0, fmt.Sprintf("miss: the ball's intercept was already out of reach here, before the point lost at step %d", j)})
		}
		if passed >= 0 && set.wants(0.5) {
			set.add(event{passed, 0.5, fmt.Sprintf("miss: the ball passes your paddle (point lost at step %d)", j)})
		}
	}
	// Crossings and returns, from the end backward: lostAhead is the next
	// lost point with the ball in play all the way to it (-1: none), so
	// the crossings of a lost rally rank first.
	lostAhead := -1
	next := st(n - 1)
	if tr.Rewards[n-1] < 0 {
		lostAhead = n - 1
	}
	for k := n - 1; k >= 1; k-- {
		a, b := st(k-1), next
		if a.BallInPlay && b.BallInPlay {
			xa, xb := g.FeatureX(a.BallX), g.FeatureX(b.BallX)
			switch {
			case b.BallVX > 0 && xa < 0 && xb >= 0:
				switch {
				case lostAhead >= 0 && set.wants(1):
					set.add(event{k, 1, fmt.Sprintf("ball crosses the centre line toward you in the rally lost at step %d", lostAhead)})
				case lostAhead < 0:
					set.add(event{k, 2, "ball crosses the centre line toward you"})
				}
			case a.BallVX > 0 && b.BallVX < 0 && xb > 0:
				set.add(event{k, 2.5, "you returned the ball"})
			}
		}
		// Step k joins what lies between the next candidate and its loss.
		if !b.BallInPlay {
			lostAhead = -1
		}
		if tr.Rewards[k-1] < 0 {
			lostAhead = k - 1
		}
		next = a
	}
}

// multiSummary is Summarize at ResolutionMulti.
func (t *task) multiSummary(tr *traj.Trajectory, b Budget, maxTok int) Summary {
	n := tr.Len()
	dense, medium, every := b.Dense, b.Medium, b.MediumEvery
	if dense == 0 {
		dense = DefaultDense
	}
	if medium == 0 {
		medium = DefaultMedium
	}
	if every <= 0 {
		every = DefaultMediumEvery
	}
	// A failure: a MuJoCo termination, or a lost Pong game.
	failed := tr.Terminated && (t.pong == nil || tr.Return < 0)
	if !failed || dense < 0 {
		dense = 0
	}
	if medium < 0 {
		medium = 0
	}
	dense = min(dense, n)
	medium = min(medium, n-dense)
	if !failed {
		medium = 0
	}
	mean, lo, hi := rewardStats(tr)
	header := t.header(tr, mean, lo, hi)
	maxBytes := 4 * maxTok

	reasons := map[int][]string{}
	var order []int // steps in the order they were chosen
	lines := map[int]string{}
	line := func(k int) string {
		l, ok := lines[k]
		if !ok {
			if len(lines) > 4*(maxBytes/minLineBytes)+64 { // bound the cache
				clear(lines)
			}
			l = t.step(k, tr.ObsAt(k), tr.ActionAt(k), float64(tr.Rewards[k]))
			lines[k] = l
		}
		return l
	}
	// The bytes of a step line with its tag: "step K [r1; r2]: …\n".
	lineBytes := func(k int, rs []string) int {
		return len(line(k)) + len(" []") + len(strings.Join(rs, "; ")) + 1
	}
	const footerReserve = 700
	used := len(header) + footerReserve
	limit := maxBytes // what add may fill up to
	// add shows step k for why, if it fits (or force); it returns false
	// when it did not fit.
	add := func(k int, why string, force bool) bool {
		if k < 0 || k >= n {
			return true
		}
		rs, shown := reasons[k]
		var delta int
		if shown {
			delta = len(why) + 2
		} else {
			delta = lineBytes(k, []string{why})
		}
		if !force && used+delta > limit {
			return false
		}
		used += delta
		if !shown {
			order = append(order, k)
		}
		reasons[k] = append(rs, why)
		return true
	}
	var sel multiSel
	sel.n, sel.dense, sel.medium, sel.every, sel.maxTok, sel.failed = n, dense, medium, every, maxTok, failed

	// 1. Required: the first and last step, steps asked about, points.
	add(0, "first step", true)
	if n > 1 {
		add(n-1, lastReason(tr, t), true)
	}
	for _, k := range b.Include {
		if k >= 0 && k < n {
			add(k, "asked about", true)
			sel.included++
		}
	}
	if t.pong != nil {
		for k := n - 1; k >= 0; k-- {
			switch r := tr.Rewards[k]; {
			case r > 0:
				sel.points++
				add(k, "point won", false)
			case r < 0:
				sel.points++
				add(k, "point lost", false)
			}
		}
	}
	// 2. Dense: the last steps before the failure, newest first.
	for k := n - 1; k >= n-dense; k-- {
		why := fmt.Sprintf("%d before the end", n-1-k)
		if k == n-1 {
			why = "dense window"
		}
		if !add(k, why, false) {
			break
		}
		sel.denseShown++
	}
	// 3. Events, most telling first (then the latest); no more than the
	// budget could show.
	evs := t.events(tr, maxBytes/minLineBytes)
	sel.events = len(evs)
	// The events that mark a failure (rank 0: a margin shrinking for good,
	// a Pong miss, a flip) go first; the others may then fill at most
	// eventShare of the room left, so the medium stride gets a share too,
	// and what they could not place comes after it.
	pending := evs[:0:0]
	for i, e := range evs {
		if e.rank > 0 && (i == 0 || evs[i-1].rank <= 0) {
			limit = used + int(eventShare*float64(max(0, maxBytes-used)))
		}
		if add(e.step, e.reason, false) {
			sel.eventsShown++
		} else {
			pending = append(pending, e)
		}
	}
	limit = maxBytes
	// 4. Medium: every every-th step of the window before the dense one.
	mStart, mEnd := n-dense-medium, n-dense // [mStart, mEnd)
	for k := mEnd - every; k >= mStart; k -= every {
		sel.mediumWant++
	}
	for k := mEnd - every; k >= mStart; k -= every { // the latest first, while they fit
		if !add(k, fmt.Sprintf("every %s step of %d-%d", ordinal(every), mStart, mEnd-1), false) {
			break
		}
		sel.mediumShown++
	}
	for _, e := range pending {
		if add(e.step, e.reason, false) {
			sel.eventsShown++
		}
	}
	// 5. Sparse: the smallest stride whose steps all fit.
	sparseFrom, sparseTo := 0, mStart // [0, mStart)
	if sparseTo > 0 {
		room := maxBytes - used
		avg := max(1, lineBytes(0, []string{"every 100th step"}))
		k := max(1, (sparseTo+max(1, room/avg)-1)/max(1, room/avg))
		for ; k <= sparseTo; k += max(1, k/16) { // the smallest that fits, to within 1/16
			cost := 0
			for s := sparseFrom; s < sparseTo; s += k {
				if _, ok := reasons[s]; ok {
					cost += len(sparseReason(k)) + 2
				} else {
					cost += lineBytes(s, []string{sparseReason(k)})
				}
				if used+cost > maxBytes {
					break
				}
			}
			if used+cost <= maxBytes {
				break
			}
		}
		if k < sparseTo { // a stride ≥ sparseTo would show only step 0, shown already
			sel.sparse = k
			for s := sparseFrom; s < sparseTo; s += k {
				add(s, sparseReason(k), true)
			}
		}
	}
	sel.sparseTo = sparseTo

	render := func() string {
		steps := slices.Clone(order)
		slices.Sort(steps)
		var sb strings.Builder
		sb.WriteString(header)
		for _, k := range steps {
			l := line(k)
			// "step K: rest" → "step K [why]: rest"
			i := strings.IndexByte(l, ':')
			sb.WriteString(l[:i])
			sb.WriteString(" [")
			sb.WriteString(strings.Join(reasons[k], "; "))
			sb.WriteString("]")
			sb.WriteString(l[i:])
			sb.WriteByte('\n')
		}
		sb.WriteString(sel.footer(len(steps)))
		return sb.String()
	}
	text := render()
	// The footer reserve is an estimate: drop the last chosen steps (the
	// least important) until the text fits, never the first and last.
	for len(text) > maxBytes && len(order) > 2 {
		k := order[len(order)-1]
		order = order[:len(order)-1]
		delete(reasons, k)
		sel.trimmed++
		text = render()
	}
	steps := slices.Clone(order)
	slices.Sort(steps)
	return Summary{Text: text, Steps: steps, Omitted: n - len(steps), Tokens: EstimateTokens(text), Reasons: reasons}
}

func sparseReason(k int) string {
	if k == 1 {
		return "every step"
	}
	return fmt.Sprintf("every %s step", ordinal(k))
}

// lastReason names the last step.
func lastReason(tr *traj.Trajectory, t *task) string {
	switch {
	case tr.Terminated && t.pong != nil:
		return "last step: the game ends"
	case tr.Terminated:
		return "last step: the failure"
	case tr.Truncated:
		return "last step: time limit"
	}
	return "last step recorded"
}

// rewardStats returns the mean, min and max reward per step.
func rewardStats(tr *traj.Trajectory) (mean, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range tr.Rewards {
		mean += float64(r)
		lo, hi = min(lo, float64(r)), max(hi, float64(r))
	}
	return mean / float64(max(1, tr.Len())), lo, hi
}

// multiSel describes a multi-resolution selection for the final line.
type multiSel struct {
	n, dense, medium, every, maxTok int
	failed                          bool
	included, points                int
	denseShown                      int
	events, eventsShown             int
	mediumWant, mediumShown         int
	sparse, sparseTo                int
	trimmed                         int
}

// footer states what was shown and exactly what was left out.
func (s multiSel) footer(shown int) string {
	var rules, left []string
	rules = append(rules, "the first and last steps")
	if s.included > 0 {
		rules = append(rules, fmt.Sprintf("the %d %s asked about", s.included, plural(s.included, "step", "steps")))
	}
	if s.points > 0 {
		rules = append(rules, fmt.Sprintf("the %d %s where a point was scored", s.points, plural(s.points, "step", "steps")))
	}
	if s.dense > 0 {
		rules = append(rules, fmt.Sprintf("the last %d steps before the end one by one (%d-%d)", s.denseShown, s.n-s.denseShown, s.n-1))
		if s.denseShown < s.dense {
			left = append(left, fmt.Sprintf("%d of the %d dense steps before the end", s.dense-s.denseShown, s.dense))
		}
	}
	if s.events > 0 {
		rules = append(rules, fmt.Sprintf("%d event %s from the physics", s.eventsShown, plural(s.eventsShown, "step", "steps")))
		if s.eventsShown < s.events {
			left = append(left, fmt.Sprintf("%d of %d event steps", s.events-s.eventsShown, s.events))
		}
	}
	if s.mediumWant > 0 {
		from, to := s.n-s.dense-s.medium, s.n-s.dense-1
		switch {
		case s.mediumShown == s.mediumWant:
			rules = append(rules, fmt.Sprintf("every %s step of the %d steps before those (%d-%d)", ordinal(s.every), s.medium, from, to))
		case s.mediumShown > 0:
			rules = append(rules, fmt.Sprintf("the latest %d of every %s step of steps %d-%d", s.mediumShown, ordinal(s.every), from, to))
		}
		if s.mediumShown < s.mediumWant {
			left = append(left, fmt.Sprintf("%d of the %d medium-stride steps (every %s of %d-%d)", s.mediumWant-s.mediumShown, s.mediumWant, ordinal(s.every), from, to))
		}
	}
	switch {
	case s.sparseTo > 0 && s.sparse > 0:
		rules = append(rules, fmt.Sprintf("%s of steps 0-%d", sparseReason(s.sparse), s.sparseTo-1))
	case s.sparseTo > 0:
		left = append(left, fmt.Sprintf("the sparse stride over steps 0-%d (no room)", s.sparseTo-1))
	}
	if s.trimmed > 0 {
		left = append(left, fmt.Sprintf("%d more chosen %s", s.trimmed, plural(s.trimmed, "step", "steps")))
	}
	drop := ""
	if len(left) > 0 {
		drop = fmt.Sprintf("; the budget of %d tokens could not hold %s", s.maxTok, strings.Join(left, ", "))
	}
	return fmt.Sprintf("(shown %d of %d steps, each tagged with why: %s%s; %d of %d steps omitted)", shown, s.n, strings.Join(rules, ", "), drop, s.n-shown, s.n)
}

// ShowSteps renders every every-th step of [from, to] of tr (every ≤ 1:
// every step) at full resolution, each line tagged with why (e.g.
// "zoom"), for a window the model asked to see or a contrast, and returns
// the steps shown. The window must lie inside the episode and show at
// most maxSteps steps (≤ 0: no limit).
func ShowSteps(spec env.Spec, tr *traj.Trajectory, from, to, every, maxSteps int, why string) (string, []int, error) {
	t, err := lookup(spec)
	if err != nil {
		return "", nil, err
	}
	if tr == nil {
		return "", nil, fmt.Errorf("interpret: nil trajectory")
	}
	every = max(every, 1)
	n := tr.Len()
	count := 0
	if from <= to {
		count = (to-from)/every + 1
	}
	switch {
	case from < 0 || to >= n || from > to:
		return "", nil, fmt.Errorf("interpret: steps %d-%d are not a window of episode %s (steps 0-%d, from ≤ to)", from, to, tr.ID, n-1)
	case maxSteps > 0 && count > maxSteps:
		return "", nil, fmt.Errorf("interpret: steps %d-%d are %d steps, more than the %d one window may show", from, to, count, maxSteps)
	}
	var sb strings.Builder
	steps := make([]int, 0, count)
	for k := from; k <= to; k += every {
		l := t.step(k, tr.ObsAt(k), tr.ActionAt(k), float64(tr.Rewards[k]))
		i := strings.IndexByte(l, ':')
		sb.WriteString(l[:i] + " [" + why + "]" + l[i:] + "\n")
		steps = append(steps, k)
	}
	return sb.String(), steps, nil
}
