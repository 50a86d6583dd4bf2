package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Rejection kinds counted in advisor.Report.Rejected. The *_clamped kinds
// count values that were kept after clamping; every other kind drops the
// annotation (or, for the batch-level kinds, the whole answer).
const (
	// Batch level: the answer as a whole is unusable.
	rejNoJSON        = "no_json"        // no balanced, valid JSON object or array in the answer
	rejNoAnnotations = "no_annotations" // JSON without an annotations list
	// Per annotation.
	rejNotObject    = "not_object"        // a list element that is not an object
	rejEpisode      = "unknown_episode"   // episode id not among the prompt's episodes
	rejBadStep      = "bad_step"          // step missing or not an integer
	rejStepRange    = "step_out_of_range" // step outside [0, episode length)
	rejStepNotShown = "step_not_shown"    // a valid step the prompt did not show
	rejBadReason    = "bad_reason"        // reason missing, empty or not a string
	rejBadAction    = "bad_action"        // action missing, not numbers or of the wrong length
	rejBadReward    = "bad_reward"        // reward missing or not a number
	rejNonFinite    = "non_finite"        // NaN or ±Inf (as a string, or overflowing like 1e999)
	rejDuplicate    = "duplicate"         // a second annotation of the same episode and step
	rejTooMany      = "over_max_critical" // beyond MaxCritical annotations for one episode
	// Kept after clamping.
	rejRewardClamped = "reward_clamped" // finite reward outside [-1, 1], clamped
	rejNotAsked      = "not_asked"      // AnnotateSteps: an annotation of a step the model was not asked about
	rejBadUsage      = "bad_usage"      // a protocol error: usage figures negative or beyond what the request could use; estimates were booked
	rejActionClamped = "action_clamped" // action outside the space's bounds, clamped (discrete: not an integer in [0, N), rounded and clamped)
)

// maxReasonRunes caps the kept reason text.
const maxReasonRunes = 600

// maxJSONStarts caps the candidate start positions longestBalanced tries,
// and jsonScanBudget its total scanned bytes (beyond a few passes over the
// answer), so a hostile answer such as a megabyte of "{[" costs a bounded,
// linear amount of work.
const (
	maxJSONStarts   = 256
	jsonScanPasses  = 4
	jsonScanReserve = 1 << 20
)

// extractJSON returns the JSON value in an answer that may wrap it in prose
// or ``` fences: the whole answer when it is JSON, else the longest
// balanced object or array that parses, preferring fenced blocks.
func extractJSON(answer string) (string, bool) {
	s := strings.TrimSpace(answer)
	if s == "" {
		return "", false
	}
	if (s[0] == '{' || s[0] == '[') && json.Valid([]byte(s)) {
		return s, true
	}
	for _, block := range fencedBlocks(s) {
		if j, ok := longestBalanced(block); ok {
			return j, true
		}
	}
	return longestBalanced(s)
}

// fencedBlocks returns the contents of ``` fenced blocks, in order.
func fencedBlocks(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "```")
		if i < 0 {
			return out
		}
		s = s[i+3:]
		// Skip the info string (json, JSON, …) up to the end of the line.
		if nl := strings.IndexByte(s, '\n'); nl >= 0 && !strings.ContainsAny(s[:nl], "{[") {
			s = s[nl+1:]
		}
		j := strings.Index(s, "```")
		if j < 0 {
			return append(out, s) // unterminated fence: take the rest
		}
		out = append(out, s[:j])
		s = s[j+3:]
	}
}

// longestBalanced finds, among balanced {…} and […] spans that are valid
// JSON, the longest one. Spans nested inside a valid one are skipped.
func longestBalanced(s string) (string, bool) {
	best := ""
	tries, budget := 0, jsonScanPasses*len(s)+jsonScanReserve
	for i := 0; i < len(s) && tries < maxJSONStarts && budget > 0; i++ {
		if s[i] != '{' && s[i] != '[' {
			continue
		}
		tries++
		end := balancedEnd(s, i)
		if end < 0 {
			budget -= len(s) - i
			continue
		}
		cand := s[i : end+1]
		budget -= 2 * len(cand)
		if json.Valid([]byte(cand)) {
			if len(cand) > len(best) {
				best = cand
			}
			i = end
		}
	}
	return best, best != ""
}

// balancedEnd returns the index of the bracket closing the one at s[i],
// aware of JSON strings and escapes, or -1.
func balancedEnd(s string, i int) int {
	var stack []byte
	inStr, esc := false, false
	for j := i; j < len(s); j++ {
		c := s[j]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{':
			stack = append(stack, '}')
		case '[':
			stack = append(stack, ']')
		case '}', ']':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return -1
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return j
			}
		}
	}
	return -1
}

// shownEpisode is what the validator knows of one episode of the prompt.
type shownEpisode struct {
	traj  *traj.Trajectory
	shown map[int]bool // Summary.Steps
}

// parseAnswer turns an untrusted answer into validated annotations,
// counting every rejection in rep. ok is false when the answer as a whole
// was unusable (no JSON, or no annotations list).
func parseAnswer(answer string, eps map[string]*shownEpisode, spec env.Spec, maxCritical int, source string, rep *advisor.Report) (anns []advisor.Annotation, ok bool) {
	raw, found := extractJSON(answer)
	if !found {
		rep.Reject(rejNoJSON)
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		rep.Reject(rejNoJSON)
		return nil, false
	}
	items, found := annotationList(v)
	if !found {
		rep.Reject(rejNoAnnotations)
		return nil, false
	}
	type key struct {
		ep   string
		step int
	}
	seen := map[key]bool{}
	perEp := map[string]int{}
	for _, it := range items {
		a, kind := parseItem(it, eps, spec, rep)
		if kind != "" {
			rep.Reject(kind)
			continue
		}
		k := key{a.Episode, a.Step}
		if seen[k] {
			rep.Reject(rejDuplicate)
			continue
		}
		if perEp[a.Episode] >= maxCritical {
			rep.Reject(rejTooMany)
			continue
		}
		seen[k] = true
		perEp[a.Episode]++
		t := eps[a.Episode].traj
		a.Obs = slices.Clone(t.ObsAt(a.Step))
		if t.Snapshots != nil {
			a.Snapshot = slices.Clone(t.Snapshots[a.Step])
		}
		a.Source = source
		anns = append(anns, a)
	}
	return anns, true
}

// annotationList finds the list of annotations in a decoded answer: a
// top-level array, the "annotations" field (or a few synonyms models use),
// or a single annotation object.
func annotationList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case map[string]any:
		for _, k := range []string{"annotations", "critical_states", "critical", "results"} {
			if l, ok := x[k].([]any); ok {
				return l, true
			}
		}
		if _, ok := x["episode"]; ok {
			return []any{x}, true
		}
	}
	return nil, false
}

// parseItem validates one annotation; a non-empty kind rejects it.
func parseItem(it any, eps map[string]*shownEpisode, spec env.Spec, rep *advisor.Report) (advisor.Annotation, string) {
	var a advisor.Annotation
	m, ok := it.(map[string]any)
	if !ok {
		return a, rejNotObject
	}
	switch id := m["episode"].(type) {
	case string:
		a.Episode = strings.TrimSpace(id)
	case json.Number:
		a.Episode = id.String()
	}
	ep, ok := eps[a.Episode]
	if !ok {
		return a, rejEpisode
	}
	n, ok := m["step"].(json.Number)
	if !ok {
		return a, rejBadStep
	}
	step, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || step != math.Trunc(step) || math.Abs(step) > 1<<31 {
		return a, rejBadStep
	}
	a.Step = int(step)
	if a.Step < 0 || a.Step >= ep.traj.Len() {
		return a, rejStepRange
	}
	if !ep.shown[a.Step] {
		return a, rejStepNotShown
	}
	reason, ok := m["reason"].(string)
	reason = strings.TrimSpace(reason)
	if !ok || reason == "" {
		return a, rejBadReason
	}
	if utf8.RuneCountInString(reason) > maxReasonRunes {
		reason = string([]rune(reason)[:maxReasonRunes]) + "…"
	}
	a.Reason = reason

	act, kind := parseAction(m["action"], spec.Action)
	if kind != "" {
		return a, kind
	}
	clamped := outOfBounds(act, spec.Action)
	if !advisor.ClampAction(act, spec.Action) {
		return a, rejNonFinite
	}
	a.Action = act

	r, kind := parseNumber(m["reward"], rejBadReward)
	if kind != "" {
		return a, kind
	}
	if r < -1 || r > 1 {
		rep.Reject(rejRewardClamped)
		r = max(-1, min(1, r))
	}
	a.Reward = r
	a.Taken = append([]float32(nil), ep.traj.ActionAt(a.Step)...)
	// The suggestion's own reward is optional: an answer without it keeps
	// its annotation, and the bonus of an override is then not given.
	if v, present := m["suggested_reward"]; present && v != nil {
		sr, kind := parseNumber(v, rejBadReward)
		if kind != "" {
			return a, kind
		}
		if sr < -1 || sr > 1 {
			rep.Reject(rejRewardClamped)
			sr = max(-1, min(1, sr))
		}
		a.SuggestedReward = &sr
	}
	if clamped {
		rep.Reject(rejActionClamped)
	}
	return a, ""
}

// outOfBounds reports whether a finite action lies outside the space (for a
// discrete space: is not an integer in {0, …, N-1}, so that ClampAction
// rounds or clamps it).
func outOfBounds(a []float32, sp env.Space) bool {
	for i, v := range a {
		if sp.IsDiscrete() {
			if v != float32(math.Round(float64(v))) || v < 0 || v > float32(sp.N-1) {
				return true
			}
			continue
		}
		if v < sp.Low[i] || v > sp.High[i] {
			return true
		}
	}
	return false
}

// parseAction reads an array of sp.Dim numbers (a bare number is accepted
// for a one-dimensional space).
func parseAction(v any, sp env.Space) ([]float32, string) {
	var vals []any
	switch x := v.(type) {
	case []any:
		vals = x
	case json.Number:
		vals = []any{x}
	default:
		return nil, rejBadAction
	}
	if len(vals) != sp.Dim {
		return nil, rejBadAction
	}
	act := make([]float32, len(vals))
	for i, e := range vals {
		f, kind := parseNumber(e, rejBadAction)
		if kind != "" {
			return nil, kind
		}
		if math.Abs(f) > math.MaxFloat32 {
			return nil, rejNonFinite // would become ±Inf as float32
		}
		act[i] = float32(f)
	}
	return act, ""
}

// parseNumber reads a finite JSON number. NaN and infinities, whether
// spelled as strings ("NaN", "Infinity") or overflowing (1e999), are
// rejNonFinite; anything else that is not a number is badKind.
func parseNumber(v any, badKind string) (float64, string) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if math.IsNaN(f) || math.IsInf(f, 0) { // overflow gives ±Inf with ErrRange
			return 0, rejNonFinite
		}
		if err != nil && !errors.Is(err, strconv.ErrRange) { // underflow to 0 is fine
			return 0, badKind
		}
		return f, ""
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "nan", "-nan", "+nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity":
			return 0, rejNonFinite
		}
	}
	return 0, badKind
}
