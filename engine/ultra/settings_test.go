package ultra

import (
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// TestVariantTable: each variant's row says what it does, and the rows the
// paper defines keep the paper's meaning (issue 25: the table replaced five
// predicates that listed names).
func TestVariantTable(t *testing.T) {
	type row struct {
		adv                                              AdvisorUse
		overrides, rewards, resets, imitates, ours, acts bool
		novelty                                          Novelty
	}
	want := map[Variant]row{
		PPO:         {},
		UltraA:      {adv: ChosenAdvisor, overrides: true, acts: true},
		UltraR:      {adv: ChosenAdvisor, rewards: true, acts: true},
		UltraRA:     {adv: ChosenAdvisor, overrides: true, rewards: true, acts: true},
		UltraRARICE: {adv: ChosenAdvisor, overrides: true, rewards: true, resets: true, ours: true, acts: true},
		UltraI:      {adv: ChosenAdvisor, imitates: true, ours: true},
		UltraIA:     {adv: ChosenAdvisor, imitates: true, rewards: true, ours: true, acts: true},
		Random:      {adv: ChosenJudgesRandom, overrides: true, rewards: true, acts: true},
		RandomAll:   {adv: RandomAdvisor, overrides: true, rewards: true, ours: true, acts: true},
		RICE:        {adv: ChosenAdvisor, resets: true, novelty: NoveltyEverywhere},
		LLMRND:      {adv: ChosenAdvisor, novelty: NoveltyAtCritical, acts: true},
		RNDOnly:     {novelty: NoveltyEverywhere, ours: true},
		Placebo:     {adv: ChosenAdvisor, rewards: true, ours: true, acts: true},
	}
	if len(Variants) != len(want) {
		t.Fatalf("%d variants, %d expected rows: a new variant needs its row here", len(Variants), len(want))
	}
	for _, v := range Variants {
		t.Run(string(v), func(t *testing.T) {
			b := v.Behaviour()
			got := row{adv: b.Advisor, overrides: b.Overrides, rewards: b.Rewards, resets: b.Resets, imitates: b.Imitates,
				ours: b.Ours, acts: b.Acts(), novelty: b.Novelty}
			if got != want[v] {
				t.Errorf("behaviour %+v, want %+v", got, want[v])
			}
			if b.Doc == "" {
				t.Error("no description")
			}
			if p, err := ParseVariant(string(v)); err != nil || p != v {
				t.Errorf("ParseVariant: %v, %v", p, err)
			}
		})
	}
	s := DefaultSettings(env.Spec{}, 100)
	if a := Placebo.Behaviour().AlphaOf(s); a != PlaceboAlpha {
		t.Errorf("placebo alpha %v", a)
	}
	if a := UltraR.Behaviour().AlphaOf(s); a != 0.1 {
		t.Errorf("ultra-r alpha %v, want the settings' 0.1", a)
	}
	for v, name := range map[Variant]string{PPO: "", RNDOnly: "", UltraA: "llm", Random: "random-llm", RandomAll: "random", UltraI: "llm"} {
		if got := v.Behaviour().AdvisorName("llm"); got != name {
			t.Errorf("%s uses advisor %q, want %q", v, got, name)
		}
	}
}

// TestSettingsValidate: the defaults are valid and resolved; each bad knob
// is named; "" is no longer a default for anything.
func TestSettingsValidate(t *testing.T) {
	hopper, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	d := DefaultSettings(hopper, 100000)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Alpha != 0.1 || d.AnnealSteps != 50000 || d.RewardOn != RewardOnAction || d.TargetHitRate != DefaultTargetHitRate || d.Imitation != DefaultImitation {
		t.Errorf("defaults %+v", d)
	}
	for _, tc := range []struct {
		name string
		edit func(*Settings)
		want string
	}{
		{"negative alpha", func(s *Settings) { s.Alpha = -1 }, "alpha"},
		{"radius and target", func(s *Settings) { s.Radius = 0.3 }, "give one"},
		{"empty reward-on", func(s *Settings) { s.RewardOn = "" }, "reward on"},
		{"empty match space", func(s *Settings) { s.MatchSpace = "" }, "match space"},
		{"anneal sentinel", func(s *Settings) { s.AnnealSteps = -1 }, "anneal steps"},
		{"override prob", func(s *Settings) { s.OverrideProb = 1.5 }, "override probability"},
		{"imitation", func(s *Settings) { s.Imitation = math.Inf(1) }, "imitation"},
		{"recalibrate without target", func(s *Settings) { s.RecalibrateEvery, s.TargetHitRate = 2, 0 }, "target hit rate to hold"},
		{"tolerance", func(s *Settings) { s.ActionTolerance = 0 }, "action tolerance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := d
			tc.edit(&s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestResetterCountsOnlyRestored: a snapshot the env cannot restore is
// counted as a failed reset, not as a reset, and the episode's first step
// is not a reset visit (issue 25: the restart used to be counted before
// the trainer tried it).
func TestResetterCountsOnlyRestored(t *testing.T) {
	spec, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	tb, _ := NewTable(make([]float64, 11), make([]float64, 11), 1e9) // no checker: the corrupt snapshot gets in
	snap := make([]float64, 16)
	snap[3] = math.NaN()
	tb.Add(advisor.Annotation{Episode: "e", Obs: make([]float32, 11), Action: []float32{0, 0, 0}, Snapshot: snap})
	rs, _ := NewResetter(tb, 1, 1)
	m, err := NewModulator(tb, ModulatorConfig{Variant: UltraRARICE, Settings: with(Settings{OverrideProb: 1})})
	if err != nil {
		t.Fatal(err)
	}
	m.resets = rs
	c := ppo.Defaults()
	c.NumSteps, c.NumMinibatches, c.TotalSteps = 256, 4, 256
	tr, err := ppo.New(c, spec, ppo.Hooks{Resetter: rs, Modulator: m})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	st, err := tr.Iterate()
	if err != nil {
		t.Fatal(err)
	}
	if st.Episodes == 0 || rs.Resets.Load() != 0 || rs.FailedResets.Load() != int64(st.Episodes) || m.ResetVisits.Load() != 0 {
		t.Fatalf("%d episodes: %d resets, %d failed, %d reset visits", st.Episodes, rs.Resets.Load(), rs.FailedResets.Load(), m.ResetVisits.Load())
	}
}

// TestImitationPullsTowardSuggestions: ultra-i hands the table's annotated
// states and suggestions to the trainer's imitation term, which moves the
// policy's mean action there toward the suggestion; it overrides nothing
// and pays no bonus, though it looks the states up (its dose).
func TestImitationPullsTowardSuggestions(t *testing.T) {
	spec, _, anns := hopperAnnotations(t)
	rms := ppo.RMSState{Mean: make([]float64, 11), Var: ones(11), Count: 1}
	for i := range anns {
		anns[i].Action = []float32{0.8, -0.8, 0.8}
	}
	s, err := NewSetup(rms, spec, Options{Variant: UltraI, Settings: with(Settings{Radius: 0.5, Imitation: 10}), Annotations: anns})
	if err != nil {
		t.Fatal(err)
	}
	if s.Hooks.Imitation == nil || s.Hooks.Imitation.Coef != 10 || s.Hooks.Resetter != nil {
		t.Fatalf("ultra-i hooks %+v", s.Hooks)
	}
	c := ppo.Defaults()
	c.NumSteps, c.NumMinibatches, c.TotalSteps = 512, 4, 512*4
	tr, err := ppo.New(c, spec, s.Hooks)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var first, last float64
	for i := 0; i < 4; i++ {
		st, err := tr.Iterate()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = st.ImitationLoss
		}
		last = st.ImitationLoss
		if st.Overrides != 0 || st.Bonuses != 0 {
			t.Fatalf("ultra-i overrode %d and paid %d bonuses", st.Overrides, st.Bonuses)
		}
	}
	if !(first > 0.3 && last < first/4) {
		t.Errorf("imitation term %.4f in the first iteration, %.4f in the fourth: not pulled toward the suggestions", first, last)
	}
	sum := s.Summary()
	if sum.Demonstrations != s.Table.Len() || sum.Lookups == 0 {
		t.Errorf("summary: %d demonstrations of %d entries, %d lookups", sum.Demonstrations, s.Table.Len(), sum.Lookups)
	}
	// The CUDA backend and gorgonia have no imitation term: refused up front.
	c.Backend = "gorgonia"
	if _, err := ppo.New(c, spec, s.Hooks); err == nil || !strings.Contains(err.Error(), "no imitation term") {
		t.Errorf("gorgonia with imitation: %v", err)
	}
}

// TestRecalibrateHoldsTheTarget: with RecalibrateEvery, each Observe fits
// the radius again to the states of the iteration just run, recorded in
// the hit windows; without it the radius stays.
func TestRecalibrateHoldsTheTarget(t *testing.T) {
	spec, trajs, anns := hopperAnnotations(t)
	rms := ppo.RMSState{Mean: make([]float64, 11), Var: ones(11), Count: 1}
	var calib []float32
	for _, tr := range trajs {
		calib = append(calib, tr.Obs...)
	}
	for _, every := range []int{0, 1} {
		s, err := NewSetup(rms, spec, Options{Variant: UltraR, Settings: with(Settings{TargetHitRate: 0.2, RecalibrateEvery: every, Alpha: 0.1}),
			Annotations: anns, CalibrationObs: calib})
		if err != nil {
			t.Fatal(err)
		}
		r0 := s.Radius
		c := ppo.Defaults()
		c.NumSteps, c.NumMinibatches, c.TotalSteps = 256, 4, 512
		tr, err := ppo.New(c, spec, s.Hooks)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			st, err := tr.Iterate()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Observe(st); err != nil {
				t.Fatal(err)
			}
		}
		tr.Close()
		sum := s.Summary()
		switch every {
		case 0:
			if sum.Radius != r0 || sum.HitWindows[1].Radius != r0 {
				t.Errorf("without recalibration the radius moved: %v → %v", r0, sum.Radius)
			}
		case 1:
			// The second window was matched at the radius fitted to the
			// first iteration's states, so it hits near the target.
			w := sum.HitWindows[1]
			rate := float64(w.Hits) / float64(w.Lookups)
			if sum.Radius == r0 || w.Radius == r0 || rate < 0.05 || rate > 0.6 {
				t.Errorf("recalibrated: radius %v → %v, second window %d/%d hits at %v", r0, sum.Radius, w.Hits, w.Lookups, w.Radius)
			}
		}
	}
}

// TestSummaryRoundTrip: modulator.json is written from Summary and read
// back into the same value.
func TestSummaryRoundTrip(t *testing.T) {
	hopper, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	sum := Summary{Variant: UltraRA, Settings: DefaultSettings(hopper, 1000), Radius: 0.3, Space: MatchFull,
		Calibration: &Calibration{Target: 0.02, HitRate: 0.021, Radius: 0.3, States: 100}, TableEntries: 5,
		Dropped: advisor.Drops{"bad": 1}, Lookups: 10, Hits: 2, HitWindows: []HitWindow{{Step: 5, Lookups: 10, Hits: 2, Radius: 0.3}},
		Overrides: 1, Bonuses: 2, Resets: 3, FailedResets: 1, ResetVisits: &ResetVisits{Visits: 3, Hits: 3}, Demonstrations: 5}
	path := filepath.Join(t.TempDir(), SummaryFile)
	if err := WriteSummary(path, sum); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSummary(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sum) {
		t.Errorf("read back\n%+v\nwrote\n%+v", got, sum)
	}
	if err := WriteSummary(filepath.Join(t.TempDir(), "missing", SummaryFile), sum); err == nil {
		t.Error("a summary written into a missing directory reported no error")
	}
}
