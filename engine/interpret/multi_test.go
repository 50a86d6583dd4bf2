package interpret

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

var (
	taggedLineRE = regexp.MustCompile(`(?m)^step (\d+) \[([^\]]+)\]: (.*)$`)
	multiShownRE = regexp.MustCompile(`\(shown (\d+) of (\d+) steps, each tagged with why: `)
)

// checkMulti verifies what holds for every multi-resolution summary: the
// tagged step lines are exactly Steps, in order, each describeStep's line
// with its reasons inserted; the final line's counts agree; the budget holds.
func checkMulti(t *testing.T, spec env.Spec, tr *traj.Trajectory, s Summary, maxTok int) {
	t.Helper()
	var parsed []int
	for _, m := range taggedLineRE.FindAllStringSubmatch(s.Text, -1) {
		k, _ := strconv.Atoi(m[1])
		parsed = append(parsed, k)
		want, err := describeStep(spec, k, tr.ObsAt(k), tr.ActionAt(k), float64(tr.Rewards[k]))
		if err != nil {
			t.Fatal(err)
		}
		if "step "+m[1]+": "+m[3] != want {
			t.Errorf("step %d line differs from describeStep", k)
		}
		if m[2] != strings.Join(s.Reasons[k], "; ") || len(s.Reasons[k]) == 0 {
			t.Errorf("step %d tag %q, reasons %q", k, m[2], s.Reasons[k])
		}
	}
	if !slices.Equal(parsed, s.Steps) || len(s.Reasons) != len(s.Steps) {
		t.Errorf("tagged lines %v, Steps %v, %d reasons", parsed, s.Steps, len(s.Reasons))
	}
	n := tr.Len()
	lines := strings.Split(s.Text, "\n")
	last := lines[len(lines)-1]
	m, o := multiShownRE.FindStringSubmatch(last), omittedRE.FindStringSubmatch(last)
	if m == nil || o == nil || m[1] != strconv.Itoa(len(s.Steps)) || m[2] != strconv.Itoa(n) || o[1] != strconv.Itoa(n-len(s.Steps)) {
		t.Errorf("final line %q, want shown %d of %d", last, len(s.Steps), n)
	}
	if s.Omitted != n-len(s.Steps) || s.Tokens != EstimateTokens(s.Text) || s.Tokens > maxTok {
		t.Errorf("omitted %d, tokens %d (estimate %d), budget %d", s.Omitted, s.Tokens, EstimateTokens(s.Text), maxTok)
	}
}

// tagged returns the steps whose reasons include one containing sub.
func tagged(s Summary, sub string) []int {
	var out []int
	for _, k := range s.Steps {
		for _, r := range s.Reasons[k] {
			if strings.Contains(r, sub) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func TestSummarizeMulti(t *testing.T) {
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	fall := hopperTrajectory(t, 3, 150, 1000) // balances 150 steps, then falls
	if !fall.Terminated || fall.Len() < 160 {
		t.Fatalf("want a fall after step 150: %d steps, terminated %v", fall.Len(), fall.Terminated)
	}
	upright := hopperTrajectory(t, 4, 1000, 300) // truncated
	height := func(tr *traj.Trajectory, k int) float64 { return float64(tr.ObsAt(k)[0]) - 0.7 }

	cases := []struct {
		name    string
		tr      *traj.Trajectory
		b       Budget
		dense   int  // the suffix of steps that must all be shown
		medium  bool // every 3rd step of the 60 before them is shown
		noRoom  bool // the final line says what the budget could not hold
		include []int
	}{
		{name: "fall, generous budget", tr: fall, b: Budget{MaxTokens: 40000}, dense: 30, medium: true},
		{name: "fall, default budget", tr: fall, b: Budget{MaxTokens: 6000}, dense: 30, medium: true},
		{name: "fall, small dense window", tr: fall, b: Budget{MaxTokens: 6000, Dense: 5, Medium: 30, MediumEvery: 2}, dense: 5},
		{name: "fall, tight budget", tr: fall, b: Budget{MaxTokens: 1500}, noRoom: true},
		{name: "fall, asked steps", tr: fall, b: Budget{MaxTokens: 6000, Include: []int{7, 11, -1, 99999}}, dense: 30, include: []int{7, 11}},
		{name: "truncated", tr: upright, b: Budget{MaxTokens: 6000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.b.Resolution = ResolutionMulti
			s, err := Summarize(spec, tc.tr, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			checkMulti(t, spec, tc.tr, s, tc.b.MaxTokens)
			n := tc.tr.Len()
			if !slices.Contains(s.Steps, 0) || !slices.Contains(s.Steps, n-1) {
				t.Errorf("first or last step missing: %v", s.Steps)
			}
			for k := n - tc.dense; k < n; k++ {
				if !slices.Contains(s.Steps, k) {
					t.Errorf("dense step %d not shown", k)
				}
			}
			// The dense steps shown are always the newest ones.
			if d := tagged(s, "before the end"); len(d) > 0 && d[0] != n-1-len(d) {
				t.Errorf("dense steps %v are not the last ones before %d", d, n-1)
			}
			if !tc.tr.Terminated && len(tagged(s, "before the end")) > 0 {
				t.Error("a truncated episode got a dense failure window")
			}
			if tc.medium {
				for k := n - 30 - 3; k >= n-90; k -= 3 {
					if !slices.Contains(s.Steps, k) {
						t.Errorf("medium step %d not shown", k)
					}
				}
			}
			if got := strings.Contains(s.Text, "could not hold"); got != tc.noRoom {
				t.Errorf("final line says 'could not hold': %v, want %v", got, tc.noRoom)
			}
			for _, k := range tc.include {
				if !slices.Contains(tagged(s, "asked about"), k) {
					t.Errorf("asked step %d not shown as asked", k)
				}
			}
			// Height-margin minima are the lowest within ±5 steps.
			for _, k := range tagged(s, "height margin local minimum") {
				for j := max(0, k-minimumHalfWidth); j < min(n, k+minimumHalfWidth+1); j++ {
					if height(tc.tr, j) < height(tc.tr, k) {
						t.Errorf("step %d is no local minimum: step %d is lower", k, j)
					}
				}
			}
			// The fastest fall into a minimum: the largest one-step drop of
			// the 10 steps before it.
			for _, k := range tagged(s, "height margin falls fastest") {
				var minStep int
				for _, r := range s.Reasons[k] {
					if i := strings.Index(r, "height margin falls fastest"); i >= 0 {
						fields := strings.Fields(r)
						minStep, _ = strconv.Atoi(fields[len(fields)-1])
					}
				}
				drop := height(tc.tr, k) - height(tc.tr, k+1)
				if k >= minStep || drop <= 0 {
					t.Errorf("step %d: drop %.4f toward the minimum at %d", k, drop, minStep)
				}
				for j := max(0, minStep-2*minimumHalfWidth); j < minStep; j++ {
					if d := height(tc.tr, j) - height(tc.tr, j+1); d > drop {
						t.Errorf("step %d falls %.4f, more than step %d (%.4f)", j, d, k, drop)
					}
				}
			}
			// The step a margin shrinks for good: at or above the mean,
			// every later step below it.
			for _, k := range tagged(s, "height margin shrinks for good") {
				mean := 0.0
				for j := range n {
					mean += height(tc.tr, j)
				}
				mean /= float64(n)
				if height(tc.tr, k) < mean {
					t.Errorf("step %d: margin %.3f below the mean %.3f", k, height(tc.tr, k), mean)
				}
				for j := k + 1; j < n; j++ {
					if height(tc.tr, j) >= mean {
						t.Errorf("step %d after %d reaches the mean again", j, k)
						break
					}
				}
			}
			if tc.tr == fall && tc.b.MaxTokens >= 6000 && (len(tagged(s, "local minimum")) == 0 || len(tagged(s, "falls fastest")) == 0 || len(tagged(s, "shrinks for good")) == 0) {
				t.Errorf("events missing: minima %v, fastest falls %v, shrinks for good %v",
					tagged(s, "local minimum"), tagged(s, "falls fastest"), tagged(s, "shrinks for good"))
			}
		})
	}
	if _, err := Summarize(spec, fall, Budget{Resolution: "dense"}); err == nil || !strings.Contains(err.Error(), "multi") {
		t.Errorf("unknown resolution: err = %v", err)
	}
}

func TestSummarizeMultiPong(t *testing.T) {
	spec := pongSpec()
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	trajs, err := eval.Collect(v, eval.Zero{}, 1, 3, "p", false)
	if err != nil {
		t.Fatal(err)
	}
	tr := &trajs[0]
	s, err := Summarize(spec, tr, Budget{MaxTokens: 8000, Resolution: ResolutionMulti})
	if err != nil {
		t.Fatal(err)
	}
	checkPongMulti := func(sub string) []int {
		ks := tagged(s, sub)
		if len(ks) == 0 {
			t.Errorf("no step tagged %q", sub)
		}
		return ks
	}
	lost := 0
	for k, r := range tr.Rewards {
		shownLost := slices.Contains(s.Reasons[k], "point lost")
		if r < 0 {
			lost++
		}
		if (r < 0) != shownLost {
			t.Errorf("step %d: reward %v, tagged as a lost point: %v", k, r, shownLost)
		}
	}
	if lost == 0 {
		t.Fatal("the NOOP game lost no point")
	}
	checkPongMulti("miss:")
	checkPongMulti("ball crosses the centre line")
	// The game was lost: its last steps are the dense window.
	for k := tr.Len() - 30; k < tr.Len(); k++ {
		if !slices.Contains(s.Steps, k) {
			t.Errorf("dense step %d of the lost game not shown", k)
		}
	}
	if s.Tokens > 8000 {
		t.Errorf("%d tokens over 8000", s.Tokens)
	}
}

func TestShowSteps(t *testing.T) {
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	tr := hopperTrajectory(t, 5, 40, 60)
	n := tr.Len()
	cases := []struct {
		name            string
		from, to, every int
		max             int
		want            []int
		wantErr         string
	}{
		{name: "window", from: 3, to: 6, every: 1, want: []int{3, 4, 5, 6}},
		{name: "stride", from: 2, to: 9, every: 3, want: []int{2, 5, 8}},
		{name: "one step", from: n - 1, to: n - 1, want: []int{n - 1}},
		{name: "past the end", from: 0, to: n, wantErr: "not a window"},
		{name: "negative", from: -1, to: 3, wantErr: "not a window"},
		{name: "reversed", from: 5, to: 3, wantErr: "not a window"},
		{name: "too long", from: 0, to: 9, max: 5, wantErr: "more than the 5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text, steps, err := ShowSteps(spec, tr, tc.from, tc.to, tc.every, tc.max, "zoom")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(steps, tc.want) {
				t.Errorf("steps %v, want %v", steps, tc.want)
			}
			for _, k := range tc.want {
				line, _ := describeStep(spec, k, tr.ObsAt(k), tr.ActionAt(k), float64(tr.Rewards[k]))
				if !strings.Contains(text, strings.Replace(line, ":", " [zoom]:", 1)+"\n") {
					t.Errorf("text lacks step %d", k)
				}
			}
			if strings.Count(text, "\n") != len(tc.want) {
				t.Errorf("%d lines, want %d", strings.Count(text, "\n"), len(tc.want))
			}
		})
	}
}

func TestFlips(t *testing.T) {
	cases := []struct {
		name   string
		v      []float64
		flip   []int // steps tagged as a flip
		before []int // steps tagged as before a flip
		right  []int // steps tagged as righting
	}{
		{name: "never flips", v: []float64{80, 60, 40, 60}},
		{name: "flips and rights", v: []float64{80, 40, 5, -20, -80, -10, 3, 50},
			flip: []int{3}, before: []int{0, 1, 2}, right: []int{6}},
		{name: "window bounded", v: append(slices.Repeat([]float64{50}, 15), -1),
			flip: []int{15}, before: []int{5, 6, 7, 8, 9, 10, 11, 12, 13, 14}},
		{name: "two flips, the first ranks first", v: []float64{10, -10, 10, -10},
			flip: []int{1, 3}, before: []int{0, 0, 1, 2}, right: []int{2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var flip, before, right []int
			var firstRank, secondRank float64
			set := &eventSet{limit: 1000}
			flips(len(tc.v), func(k int) float64 { return tc.v[k] }, set)
			for _, e := range set.evs {
				switch {
				case strings.HasPrefix(e.reason, "flips onto its back"):
					flip = append(flip, e.step)
					if strings.Contains(e.reason, "flip 1") {
						firstRank = e.rank
					} else {
						secondRank = e.rank
					}
				case strings.Contains(e.reason, "before flip"):
					before = append(before, e.step)
				case strings.HasPrefix(e.reason, "rights itself"):
					right = append(right, e.step)
				}
			}
			slices.Sort(before)
			if !slices.Equal(flip, tc.flip) || !slices.Equal(before, tc.before) || !slices.Equal(right, tc.right) {
				t.Errorf("flip %v before %v right %v; want %v %v %v", flip, before, right, tc.flip, tc.before, tc.right)
			}
			if len(tc.flip) > 1 && !(firstRank < secondRank) {
				t.Errorf("first flip rank %v, second %v", firstRank, secondRank)
			}
		})
	}
}
