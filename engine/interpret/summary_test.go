package interpret

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// hopperTrajectory steps the real hopper: a PD controller holds it upright
// for balance steps, then random actions make it fall. It stops at
// termination or after limit steps (then marked truncated).
func hopperTrajectory(t *testing.T, seed uint64, balance, limit int) *traj.Trajectory {
	t.Helper()
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	e, err := spec.New(env.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	od, ad := spec.Observation.Dim, spec.Action.Dim
	obs := make([]float32, od)
	e.Reset(rng, obs)
	tr := &traj.Trajectory{ID: fmt.Sprintf("test-ep%03d", seed), Env: spec.ID, ObsDim: od, ActDim: ad}
	act := make([]float32, ad)
	for k := 0; k < limit; k++ {
		for i := range act {
			if k < balance { // hold joints straight, lean the thigh against pitch
				a := -2*obs[2+i] - 0.2*obs[8+i]
				if i == 0 {
					a += -3*obs[1] - 0.3*obs[7]
				}
				act[i] = max(-1, min(1, a))
			} else {
				act[i] = float32(2*rng.Float64() - 1)
			}
		}
		tr.Obs = append(tr.Obs, obs...)
		tr.Actions = append(tr.Actions, act...)
		r, term, err := e.Step(act, obs)
		if err != nil {
			t.Fatal(err)
		}
		tr.Rewards = append(tr.Rewards, float32(r))
		tr.Return += r
		if term {
			tr.Terminated = true
			return tr
		}
	}
	tr.Truncated = true
	return tr
}

var (
	stepLineRE = regexp.MustCompile(`(?m)^step (\d+): `)
	shownRE    = regexp.MustCompile(`\(shown (\d+) of (\d+) steps: `)
	omittedRE  = regexp.MustCompile(`; (\d+) of (\d+) steps omitted\)$`)
)

// checkSummary verifies what holds for every summary: the step lines are
// exactly Steps, in order, each equal to describeStep; the counts in the
// final line agree; Tokens is EstimateTokens(Text).
func checkSummary(t *testing.T, spec env.Spec, tr *traj.Trajectory, s Summary) {
	t.Helper()
	n := tr.Len()
	var parsed []int
	for _, m := range stepLineRE.FindAllStringSubmatch(s.Text, -1) {
		k, _ := strconv.Atoi(m[1])
		parsed = append(parsed, k)
	}
	if !slices.Equal(parsed, s.Steps) {
		t.Errorf("step lines %v, Steps %v", parsed, s.Steps)
	}
	if !slices.IsSorted(s.Steps) || len(slices.Compact(slices.Clone(s.Steps))) != len(s.Steps) {
		t.Errorf("Steps not strictly ascending: %v", s.Steps)
	}
	for _, k := range s.Steps {
		if k < 0 || k >= n {
			t.Fatalf("step %d outside [0, %d)", k, n)
		}
		want, err := describeStep(spec, k, tr.ObsAt(k), tr.ActionAt(k), float64(tr.Rewards[k]))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s.Text, "\n"+want+"\n") {
			t.Errorf("text lacks the line of step %d", k)
		}
	}
	if s.Omitted != n-len(s.Steps) {
		t.Errorf("Omitted %d, want %d", s.Omitted, n-len(s.Steps))
	}
	lines := strings.Split(s.Text, "\n")
	last := lines[len(lines)-1]
	m := shownRE.FindStringSubmatch(last)
	o := omittedRE.FindStringSubmatch(last)
	if m == nil || o == nil {
		t.Fatalf("final line %q lacks the counts", last)
	}
	if m[1] != strconv.Itoa(len(s.Steps)) || m[2] != strconv.Itoa(n) || o[1] != strconv.Itoa(s.Omitted) || o[2] != strconv.Itoa(n) {
		t.Errorf("final line %q, want shown %d, omitted %d of %d", last, len(s.Steps), s.Omitted, n)
	}
	if s.Tokens != EstimateTokens(s.Text) {
		t.Errorf("Tokens %d, EstimateTokens %d", s.Tokens, EstimateTokens(s.Text))
	}
	if !strings.HasPrefix(s.Text, "Episode "+tr.ID+" (hopper): "+strconv.Itoa(n)+" steps, return "+fixed(tr.Return, 2)+", ") {
		t.Errorf("header: %q", lines[0])
	}
}

// rewardJumps applies Budget.RewardJump's default rule independently.
func rewardJumps(tr *traj.Trajectory) ([]int, float64) {
	n := float64(tr.Len())
	var sum, sq float64
	for _, r := range tr.Rewards {
		sum += float64(r)
	}
	mean := sum / n
	for _, r := range tr.Rewards {
		sq += (float64(r) - mean) * (float64(r) - mean)
	}
	thr := 2 * math.Sqrt(sq/n)
	var out []int
	for k := 1; k < tr.Len(); k++ {
		if math.Abs(float64(tr.Rewards[k]-tr.Rewards[k-1])) > thr {
			out = append(out, k)
		}
	}
	return out, thr
}

func TestSummarize(t *testing.T) {
	spec := specOf(t, "hopper")
	tr := hopperTrajectory(t, 1, 490, 1000)
	n := tr.Len()
	if !tr.Terminated || n < 481 || n > 600 {
		t.Fatalf("want a terminated episode of about 500 steps, got %d (terminated %v)", n, tr.Terminated)
	}
	jumps, thr := rewardJumps(tr)
	if len(jumps) == 0 {
		t.Fatal("test trajectory has no reward jumps")
	}
	for _, tc := range []struct {
		name      string
		b         Budget
		maxTok    int
		nearEnd   int
		every     int    // > 0: every multiple of it must be shown
		wantAll   bool   // every step shown
		wantInFoo string // in the final line
	}{
		{"defaults", Budget{}, 2000, 10, 0, false, fmt.Sprintf("the last 10 steps before termination (%d-%d)", n-10, n-1)},
		{"small", Budget{MaxTokens: 1200}, 1200, 10, 0, false, "step from step 0"},
		{"near end 15", Budget{NearEnd: 15}, 2000, 15, 0, false, "the last 15 steps"},
		{"fixed stride", Budget{MaxTokens: 100000, Every: 7}, 100000, 10, 7, false, "every 7th step from step 0"},
		{"no near end", Budget{NearEnd: -1}, 2000, 0, 0, false, "the first and last steps"},
		{"huge", Budget{MaxTokens: 1 << 20}, 1 << 20, 10, 1, true, "every step; 0 of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Summarize(spec, tr, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			checkSummary(t, spec, tr, s)
			if s.Tokens > tc.maxTok {
				t.Errorf("%d tokens over the budget of %d", s.Tokens, tc.maxTok)
			}
			if strings.Contains(s.Text, "dropped") {
				t.Errorf("dropped steps with a sufficient budget:\n%s", s.Text)
			}
			if s.Steps[0] != 0 || s.Steps[len(s.Steps)-1] != n-1 {
				t.Errorf("first/last step missing: %v", s.Steps)
			}
			for k := n - tc.nearEnd; k < n; k++ {
				if !slices.Contains(s.Steps, k) {
					t.Errorf("near-end step %d missing", k)
				}
			}
			if tc.nearEnd == 0 && strings.Contains(s.Text, "before termination") {
				t.Error("near-end clause without near-end steps")
			}
			for _, k := range jumps {
				if !slices.Contains(s.Steps, k) {
					t.Errorf("reward-jump step %d missing (threshold %.3f)", k, thr)
				}
			}
			if tc.every > 0 {
				for k := 0; k < n; k += tc.every {
					if !slices.Contains(s.Steps, k) {
						t.Errorf("stride step %d missing", k)
					}
				}
			}
			if tc.wantAll != (len(s.Steps) == n) {
				t.Errorf("shown %d of %d steps, want all: %v", len(s.Steps), n, tc.wantAll)
			}
			if !tc.wantAll && s.Omitted == 0 {
				t.Error("nothing omitted")
			}
			if !strings.Contains(s.Text, tc.wantInFoo) {
				t.Errorf("text lacks %q:\n%s", tc.wantInFoo, s.Text[max(0, len(s.Text)-600):])
			}
			if !strings.Contains(s.Text, fmt.Sprintf("terminated after step %d", n-1)) {
				t.Error("header does not say how the episode ended")
			}
			// Deterministic.
			if again, _ := Summarize(spec, tr, tc.b); again.Text != s.Text {
				t.Error("two summaries differ")
			}
		})
	}
	// The automatic stride is the smallest that fits: one less overflows.
	s, _ := Summarize(spec, tr, Budget{})
	k := strideOf(t, s.Text)
	if k > 1 {
		if t2, _ := Summarize(spec, tr, Budget{Every: k - 1, MaxTokens: 1 << 20}); t2.Tokens <= 2000 {
			t.Errorf("stride %d chosen though %d fits (%d tokens)", k, k-1, t2.Tokens)
		}
	}
}

func strideOf(t *testing.T, text string) int {
	t.Helper()
	if strings.Contains(text, ": every step") {
		return 1
	}
	m := regexp.MustCompile(`every (\d+)(st|nd|rd|th) step from step 0`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no stride in %q", text[max(0, len(text)-400):])
	}
	k, _ := strconv.Atoi(m[1])
	return k
}

func TestSummarizeTinyBudget(t *testing.T) {
	spec := specOf(t, "hopper")
	tr := hopperTrajectory(t, 1, 490, 1000)
	n := tr.Len()
	required, _ := rewardJumps(tr)
	required = append(required, 0, n-1)
	for k := n - 10; k < n; k++ {
		required = append(required, k)
	}
	slices.Sort(required)
	required = slices.Compact(required)
	for _, tc := range []struct {
		maxTok int
		none   bool // no step can fit
	}{{900, false}, {400, false}, {1, true}} {
		t.Run(strconv.Itoa(tc.maxTok), func(t *testing.T) {
			s, err := Summarize(spec, tr, Budget{MaxTokens: tc.maxTok})
			if err != nil {
				t.Fatal(err)
			}
			checkSummary(t, spec, tr, s)
			dropped := len(required) - len(s.Steps)
			if dropped <= 0 {
				t.Fatalf("nothing dropped at %d tokens: %d steps shown", tc.maxTok, len(s.Steps))
			}
			// The newest required steps are the ones kept.
			if !slices.Equal(s.Steps, required[dropped:]) {
				t.Errorf("kept %v, want the newest of %v", s.Steps, required)
			}
			want := fmt.Sprintf("the %d oldest required %s (%s) %s dropped", dropped, plural(dropped, "step", "steps"), stepList(required[:dropped]), plural(dropped, "was", "were"))
			if !strings.Contains(s.Text, want) {
				t.Errorf("text lacks %q:\n%s", want, s.Text)
			}
			if tc.none {
				if len(s.Steps) != 0 || !strings.Contains(s.Text, "leaving no step shown") {
					t.Errorf("want no step shown, got %v", s.Steps)
				}
			} else if s.Tokens > tc.maxTok {
				t.Errorf("%d tokens over the budget of %d", s.Tokens, tc.maxTok)
			}
		})
	}
}

func TestSummarizeTruncated(t *testing.T) {
	spec := specOf(t, "hopper")
	tr := hopperTrajectory(t, 2, 1000, 200)
	if tr.Terminated || !tr.Truncated || tr.Len() != 200 {
		t.Fatalf("want 200 balanced steps, got %d (terminated %v)", tr.Len(), tr.Terminated)
	}
	s, err := Summarize(spec, tr, Budget{MaxTokens: 1500, RewardJump: -1})
	if err != nil {
		t.Fatal(err)
	}
	checkSummary(t, spec, tr, s)
	for _, bad := range []string{"before termination", "reward changed"} {
		if strings.Contains(s.Text, bad) {
			t.Errorf("text has %q", bad)
		}
	}
	if !strings.Contains(s.Text, "truncated after step 199") {
		t.Error("header does not say it was truncated")
	}
	// Only the stride and the first and last steps.
	k := strideOf(t, s.Text)
	for _, step := range s.Steps {
		if step%k != 0 && step != 199 {
			t.Errorf("step %d is neither on the stride %d nor the last", step, k)
		}
	}
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		req  []int
		k, n int
		want []int
	}{
		{[]int{0, 5, 9}, 4, 10, []int{0, 4, 5, 8, 9}},
		{[]int{0, 9}, 1, 10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{[]int{0, 3, 9}, 10, 10, []int{0, 3, 9}},
		{[]int{0}, 20, 1, []int{0}},
		{[]int{4, 8}, 4, 10, []int{0, 4, 8}},
	} {
		if got := merge(tc.req, tc.k, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("merge(%v, %d, %d) = %v, want %v", tc.req, tc.k, tc.n, got, tc.want)
		}
	}
}

func TestEstimateTokens(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{{"", 0}, {"abcd", 1}, {"abcde", 2}, {"°", 1}, {"12.5°/s", 2}, {strings.Repeat("x", 400), 100}} {
		if got := EstimateTokens(tc.s); got != tc.want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

func TestStepList(t *testing.T) {
	for _, tc := range []struct {
		ks   []int
		want string
	}{{nil, "none"}, {[]int{5}, "step 5"}, {[]int{0, 465}, "steps 0 and 465"}, {[]int{0, 12, 465}, "steps 0, 12 and 465"},
		{[]int{1, 2, 3, 4, 9}, "steps 1 to 9"}} {
		if got := stepList(tc.ks); got != tc.want {
			t.Errorf("stepList(%v) = %q, want %q", tc.ks, got, tc.want)
		}
	}
}

func TestOrdinal(t *testing.T) {
	for k, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 22: "22nd", 101: "101st", 111: "111th"} {
		if got := ordinal(k); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", k, got, want)
		}
	}
}

// repeated tiles tr's steps until the episode has n steps (every step a
// real hopper state), with every reward set to flat when flat ≥ 0.
func repeated(tr *traj.Trajectory, n int, flat float32) *traj.Trajectory {
	out := &traj.Trajectory{ID: "long", Env: tr.Env, ObsDim: tr.ObsDim, ActDim: tr.ActDim, Terminated: true}
	out.Obs = make([]float32, 0, n*tr.ObsDim)
	out.Actions = make([]float32, 0, n*tr.ActDim)
	out.Rewards = make([]float32, 0, n)
	for k := 0; k < n; k++ {
		j := k % tr.Len()
		out.Obs = append(out.Obs, tr.ObsAt(j)...)
		out.Actions = append(out.Actions, tr.ActionAt(j)...)
		r := tr.Rewards[j]
		if flat >= 0 {
			r = flat
		}
		out.Rewards = append(out.Rewards, r)
		out.Return += float64(r)
	}
	return out
}

// TestSummarizeMemoryIsBoundedByTheBudget covers issue 14's finding 8: a
// 5.2M-step episode ran `annotate --advisor llm` out of memory, because
// building a 2000-token summary rendered and kept every step's line. The
// bytes Summarize allocates must not grow with the episode's length.
func TestSummarizeMemoryIsBoundedByTheBudget(t *testing.T) {
	spec := specOf(t, "hopper")
	base := hopperTrajectory(t, 1, 490, 1000)
	for _, tc := range []struct {
		name       string
		flat       float32
		resolution string
	}{
		{"stride (flat rewards)", 1, ResolutionStride},
		{"required steps over the budget (repeated reward jumps)", -1, ResolutionStride},
		{"multi-resolution", -1, ResolutionMulti},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alloc := func(n int) uint64 {
				tr := repeated(base, n, tc.flat)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s, err := Summarize(spec, tr, Budget{Resolution: tc.resolution})
				runtime.ReadMemStats(&after)
				if err != nil {
					t.Fatal(err)
				}
				if tc.resolution == ResolutionMulti {
					checkMulti(t, spec, tr, s, DefaultMaxTokens)
				} else {
					checkSummary(t, spec, tr, s)
				}
				if s.Tokens > DefaultMaxTokens || len(s.Steps) == 0 || s.Steps[len(s.Steps)-1] != n-1 {
					t.Fatalf("n=%d: %d tokens, steps %v", n, s.Tokens, s.Steps)
				}
				return after.TotalAlloc - before.TotalAlloc
			}
			small, large := alloc(100_000), alloc(1_000_000)
			t.Logf("allocated %d bytes for 100k steps, %d for 1M", small, large)
			if large > 2*small+1<<20 || large > 32<<20 {
				t.Fatalf("Summarize allocated %d bytes for a 1M-step episode and %d for 100k: memory grows with the episode", large, small)
			}
		})
	}
}

// TestSummarizeIncludesAskedSteps: Budget.Include steps are shown even
// where the stride would skip them, and the final line says so.
func TestSummarizeIncludesAskedSteps(t *testing.T) {
	spec := specOf(t, "hopper")
	tr := hopperTrajectory(t, 1, 490, 1000)
	plain, err := Summarize(spec, tr, Budget{MaxTokens: 1500})
	if err != nil {
		t.Fatal(err)
	}
	k := 123
	for slices.Contains(plain.Steps, k) {
		k++
	}
	s, err := Summarize(spec, tr, Budget{MaxTokens: 1500, Include: []int{k, -5, 99999}})
	if err != nil {
		t.Fatal(err)
	}
	checkSummary(t, spec, tr, s)
	if !slices.Contains(s.Steps, k) || !strings.Contains(s.Text, "the 1 step asked about") {
		t.Fatalf("step %d not shown (%v), or the final line does not say why:\n%s", k, s.Steps, s.Text[len(s.Text)-300:])
	}
}
