package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/traj"
)

func TestExtractJSON(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`{"a":1}`, `{"a":1}`, true},
		{"  [1,2]\n", `[1,2]`, true},
		{"text {\"a\":1} text", `{"a":1}`, true},
		{"```json\n{\"a\":1}\n```", `{"a":1}`, true},
		{"```JSON\n{\"a\":\"}\"}\n```", `{"a":"}"}`, true}, // brace inside a string
		{"```\n[{\"a\":1}]\n```", `[{"a":1}]`, true},
		{"see [1] and {\"annotations\":[{\"x\":\"[\\\"\"}]}", `{"annotations":[{"x":"[\""}]}`, true},
		{"first {\"a\":1} then the longer {\"b\":[1,2,3]}", `{"b":[1,2,3]}`, true},
		{"[1, 2] and [{\"a\": 1}]", `[{"a": 1}]`, true},
		{"unbalanced {\"a\":1", "", false},
		{"{not json}", "", false},
		{"", "", false},
		{"no json at all", "", false},
		{"```json\nnot json\n``` but here {\"a\":2}", `{"a":2}`, true},
	} {
		got, ok := extractJSON(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("extractJSON(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestExtractJSONPathological bounds the cost of a hostile answer.
func TestExtractJSONPathological(t *testing.T) {
	s := strings.Repeat("{[", 500_000) // 1 MB of unbalanced openers
	start := time.Now()
	if _, ok := extractJSON(s); ok {
		t.Error("found JSON in garbage")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

// parseFixture is one hopper trajectory whose shown steps are 0, 2 and 4.
func parseFixture(t *testing.T) (map[string]*shownEpisode, *traj.Trajectory) {
	tr := &hopperTrajs(t, 1)[0]
	if tr.Len() < 6 {
		t.Fatalf("trajectory of %d steps", tr.Len())
	}
	return map[string]*shownEpisode{tr.ID: {traj: tr, shown: map[int]bool{0: true, 2: true, 4: true}}}, tr
}

func TestParseAnswerValidation(t *testing.T) {
	eps, tr := parseFixture(t)
	spec := hopper(t)
	n := tr.Len()
	const ok = `"episode": "ep00", "step": 2, "reason": "r", "action": [0.1, 0.2, 0.3], "reward": 0.5`
	for _, tc := range []struct {
		name     string
		item     string
		kept     bool
		rejected map[string]int
		action   []float32 // when kept
		reward   float64
	}{
		{"good", ok, true, nil, []float32{0.1, 0.2, 0.3}, 0.5},
		{"not an object", `"ep00"`, false, map[string]int{rejNotObject: 1}, nil, 0},
		{"unknown episode", strings.Replace(ok, `"ep00"`, `"ep99"`, 1), false, map[string]int{rejEpisode: 1}, nil, 0},
		{"episode missing", strings.Replace(ok, `"episode": "ep00", `, "", 1), false, map[string]int{rejEpisode: 1}, nil, 0},
		{"step as string", strings.Replace(ok, `"step": 2`, `"step": "2"`, 1), false, map[string]int{rejBadStep: 1}, nil, 0},
		{"fractional step", strings.Replace(ok, `"step": 2`, `"step": 2.5`, 1), false, map[string]int{rejBadStep: 1}, nil, 0},
		{"integral float step", strings.Replace(ok, `"step": 2`, `"step": 2.0`, 1), true, nil, []float32{0.1, 0.2, 0.3}, 0.5},
		{"huge step", strings.Replace(ok, `"step": 2`, `"step": 1e999`, 1), false, map[string]int{rejBadStep: 1}, nil, 0},
		{"negative step", strings.Replace(ok, `"step": 2`, `"step": -1`, 1), false, map[string]int{rejStepRange: 1}, nil, 0},
		{"step past the end", strings.Replace(ok, `"step": 2`, fmt.Sprintf(`"step": %d`, n), 1), false, map[string]int{rejStepRange: 1}, nil, 0},
		{"step not shown", strings.Replace(ok, `"step": 2`, `"step": 3`, 1), false, map[string]int{rejStepNotShown: 1}, nil, 0},
		{"reason missing", strings.Replace(ok, `"reason": "r", `, "", 1), false, map[string]int{rejBadReason: 1}, nil, 0},
		{"reason blank", strings.Replace(ok, `"reason": "r"`, `"reason": "  "`, 1), false, map[string]int{rejBadReason: 1}, nil, 0},
		{"reason not a string", strings.Replace(ok, `"reason": "r"`, `"reason": 3`, 1), false, map[string]int{rejBadReason: 1}, nil, 0},
		{"action too short", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[0.1, 0.2]`, 1), false, map[string]int{rejBadAction: 1}, nil, 0},
		{"action too long", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[0.1, 0.2, 0.3, 0.4]`, 1), false, map[string]int{rejBadAction: 1}, nil, 0},
		{"action not numbers", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[0.1, "up", 0.3]`, 1), false, map[string]int{rejBadAction: 1}, nil, 0},
		{"action missing", strings.Replace(ok, `"action": [0.1, 0.2, 0.3], `, "", 1), false, map[string]int{rejBadAction: 1}, nil, 0},
		{"action NaN string", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[0.1, "NaN", 0.3]`, 1), false, map[string]int{rejNonFinite: 1}, nil, 0},
		{"action 1e999", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[0.1, 1e999, 0.3]`, 1), false, map[string]int{rejNonFinite: 1}, nil, 0},
		{"action -Infinity string", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[0.1, "-Infinity", 0.3]`, 1), false, map[string]int{rejNonFinite: 1}, nil, 0},
		{"action beyond float32", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[0.1, 1e300, 0.3]`, 1), false, map[string]int{rejNonFinite: 1}, nil, 0},
		{"action clamped", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[5, -7.5, 0.3]`, 1), true, map[string]int{rejActionClamped: 1}, []float32{1, -1, 0.3}, 0.5},
		{"tiny action underflows to 0", strings.Replace(ok, `[0.1, 0.2, 0.3]`, `[1e-999, 0.2, 0.3]`, 1), true, nil, []float32{0, 0.2, 0.3}, 0.5},
		{"reward NaN string", strings.Replace(ok, `"reward": 0.5`, `"reward": "nan"`, 1), false, map[string]int{rejNonFinite: 1}, nil, 0},
		{"reward 1e999", strings.Replace(ok, `"reward": 0.5`, `"reward": 1e999`, 1), false, map[string]int{rejNonFinite: 1}, nil, 0},
		{"reward -1e999", strings.Replace(ok, `"reward": 0.5`, `"reward": -1e999`, 1), false, map[string]int{rejNonFinite: 1}, nil, 0},
		{"reward as word", strings.Replace(ok, `"reward": 0.5`, `"reward": "high"`, 1), false, map[string]int{rejBadReward: 1}, nil, 0},
		{"reward missing", strings.Replace(ok, `, "reward": 0.5`, "", 1), false, map[string]int{rejBadReward: 1}, nil, 0},
		{"reward clamped high", strings.Replace(ok, `"reward": 0.5`, `"reward": 1.2`, 1), true, map[string]int{rejRewardClamped: 1}, []float32{0.1, 0.2, 0.3}, 1},
		{"reward clamped low", strings.Replace(ok, `"reward": 0.5`, `"reward": -40`, 1), true, map[string]int{rejRewardClamped: 1}, []float32{0.1, 0.2, 0.3}, -1},
		{"reward at the bound", strings.Replace(ok, `"reward": 0.5`, `"reward": -1`, 1), true, nil, []float32{0.1, 0.2, 0.3}, -1},
		{"suggested reward", ok + `, "suggested_reward": 0.25`, true, nil, []float32{0.1, 0.2, 0.3}, 0.5},
		{"suggested reward clamped", ok + `, "suggested_reward": 7`, true, map[string]int{rejRewardClamped: 1}, []float32{0.1, 0.2, 0.3}, 0.5},
		{"suggested reward as word", ok + `, "suggested_reward": "good"`, false, map[string]int{rejBadReward: 1}, nil, 0},
		{"suggested reward NaN", ok + `, "suggested_reward": "NaN"`, false, map[string]int{rejNonFinite: 1}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rep advisor.Report
			elem := "{" + tc.item + "}"
			if tc.rejected[rejNotObject] > 0 {
				elem = tc.item
			}
			anns, whole := parseAnswer(`{"annotations": [`+elem+`]}`, eps, spec, 5, "llm:m", &rep)
			if !whole {
				t.Fatal("answer rejected as a whole")
			}
			if got := len(anns) == 1; got != tc.kept {
				t.Fatalf("kept %v, want %v (rejected %v)", got, tc.kept, rep.Rejected)
			}
			if !maps.Equal(rep.Rejected, tc.rejected) && (len(rep.Rejected) != 0 || len(tc.rejected) != 0) {
				t.Errorf("rejected %v, want %v", rep.Rejected, tc.rejected)
			}
			if !tc.kept {
				return
			}
			a := anns[0]
			if !slices.Equal(a.Action, tc.action) || a.Reward != tc.reward || a.Step != 2 || a.Episode != "ep00" || a.Source != "llm:m" {
				t.Errorf("annotation %+v", a)
			}
			if !slices.Equal(a.Obs, tr.ObsAt(2)) || !slices.Equal(a.Snapshot, tr.Snapshots[2]) || !slices.Equal(a.Taken, tr.ActionAt(2)) {
				t.Error("obs, snapshot or taken action not from the trajectory")
			}
			switch {
			case strings.Contains(tc.item, `"suggested_reward": 0.25`) && (a.SuggestedReward == nil || *a.SuggestedReward != 0.25),
				strings.Contains(tc.item, `"suggested_reward": 7`) && (a.SuggestedReward == nil || *a.SuggestedReward != 1),
				!strings.Contains(tc.item, "suggested_reward") && a.SuggestedReward != nil:
				t.Errorf("suggested reward %v", a.SuggestedReward)
			}
		})
	}
}

func TestParseAnswerDuplicatesAndMaxCritical(t *testing.T) {
	eps, _ := parseFixture(t)
	item := func(step int, reward float64) string {
		return fmt.Sprintf(`{"episode": "ep00", "step": %d, "reason": "r", "action": [0, 0, 0], "reward": %g}`, step, reward)
	}
	var rep advisor.Report
	ans := `{"annotations": [` + strings.Join([]string{item(0, 0.1), item(0, 0.9), item(2, 0.2), item(4, 0.3)}, ",") + `]}`
	anns, _ := parseAnswer(ans, eps, hopper(t), 2, "s", &rep)
	if len(anns) != 2 || anns[0].Reward != 0.1 || anns[1].Step != 2 {
		t.Errorf("annotations %+v", anns)
	}
	if rep.Rejected[rejDuplicate] != 1 || rep.Rejected[rejTooMany] != 1 {
		t.Errorf("rejected %v", rep.Rejected)
	}
	// The annotation's obs is a copy: changing it leaves the trajectory be.
	anns[0].Obs[0] = 1e9
	if eps["ep00"].traj.ObsAt(0)[0] == 1e9 {
		t.Error("annotation obs aliases the trajectory")
	}
}

func TestParseNumber(t *testing.T) {
	if f, k := parseNumber("Infinity", "bad"); k != rejNonFinite || f != 0 {
		t.Errorf("Infinity: %v %q", f, k)
	}
	if _, k := parseNumber(true, "bad"); k != "bad" {
		t.Errorf("bool: %q", k)
	}
	if _, k := parseNumber(nil, "bad"); k != "bad" {
		t.Errorf("null: %q", k)
	}
	if f, k := parseNumber(json.Number("-0.25"), "bad"); k != "" || f != -0.25 {
		t.Errorf("-0.25: %v %q", f, k)
	}
}

func TestBucket(t *testing.T) {
	var nilBucket *bucket
	if _, err := nilBucket.wait(context.Background(), 1e9); err != nil {
		t.Fatal(err)
	}
	b := newBucket(6000) // 100 per second, capacity 6000
	if newBucket(0) != nil {
		t.Error("0 per minute must be unlimited")
	}
	start := time.Now()
	if _, err := b.wait(context.Background(), 6000); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Error("a full bucket made us wait")
	}
	start = time.Now()
	if _, err := b.wait(context.Background(), 10); err != nil { // 10 tokens at 100/s
		t.Fatal(err)
	}
	if el := time.Since(start); el < 80*time.Millisecond || el > 3*time.Second {
		t.Errorf("waited %v for 10 tokens at 100/s", el)
	}
	b.adjust(50) // debt: the next token needs about 0.5 s
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the context's", err)
	}
	// A request larger than the capacity waits for a full bucket, not forever.
	small := newBucket(60) // 1 per second, capacity 60
	small.adjust(-1000)    // cannot exceed the capacity
	if n, err := small.wait(context.Background(), 1e6); err != nil || n != 60 {
		t.Fatalf("took %v: %v", n, err)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := range 40 {
		for range 50 {
			d := backoff(10*time.Millisecond, time.Second, attempt)
			if d < 0 || d > time.Second || (attempt < 3 && d > 10*time.Millisecond<<attempt) {
				t.Fatalf("attempt %d: %v", attempt, d)
			}
		}
	}
}
