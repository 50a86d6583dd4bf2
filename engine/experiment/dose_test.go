package experiment

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func TestParseShareAndDose(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  string
	}{
		{"2%", 0.02, ""}, {"0.02", 0.02, ""}, {" 0.1% ", 0.001, ""}, {"100%", 1, ""},
		{"two", 0, "not a share"}, {"150%", 0, "outside"}, {"-1%", 0, "outside"}, {"NaN", 0, "not a share"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseShare(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("%v, %v; want %v", got, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		in   string
		want []float64
		err  string
	}{
		{"target-hit-rate=0.1%,0.5%,2%,5%", []float64{0.001, 0.005, 0.02, 0.05}, ""},
		{"target-hit-rate=0.05", []float64{0.05}, ""},
		{"radius=1,2", nil, "the only knob"},
		{"0.1%,2%", nil, "write target-hit-rate=LIST"},
		{"target-hit-rate=1%,1%", nil, "twice"},
		{"target-hit-rate=0%,1%", nil, "that is ppo"},
		{"target-hit-rate=1%,x", nil, "not a share"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDose(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("%v, %v; want %v", got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestDoseValidate(t *testing.T) {
	base := func(vs ...ultra.Variant) Config {
		c := Config{Env: "hopper", Out: t.TempDir(), PretrainSteps: 2048, PretrainSeed: 1, CollectEpisodes: 2, Seeds: 1, Jobs: 1,
			RefineSteps: 2048, EvalEpisodes: 1, Settings: ultra.DefaultSettings(hopperSpec(t), 2048), Registry: env.NewRegistry(tasks.Specs()...),
			Advisor: AdvisorConfig{Name: "scripted", PerEpisode: 5}, Variants: vs}
		return c
	}
	for _, tc := range []struct {
		name  string
		dc    DoseConfig
		err   string
		check func(*testing.T, DoseConfig)
	}{
		{"fine", DoseConfig{Base: base(ultra.PPO, ultra.UltraRA, ultra.Placebo), Doses: []float64{0.01, 0.05}}, "", func(t *testing.T, dc DoseConfig) {
			if v := dc.doseVariants(); len(v) != 1 || v[0] != ultra.UltraRA {
				t.Errorf("dose variants %v, want ultra-ra (ppo and placebo are bands)", v)
			}
		}},
		{"no doses", DoseConfig{Base: base(ultra.UltraRA)}, "no doses", nil},
		{"rice", DoseConfig{Base: base(ultra.UltraRA, ultra.RICE), Doses: []float64{0.01}}, "rice do not act on the table", nil},
		{"only bands", DoseConfig{Base: base(ultra.PPO, ultra.Placebo), Doses: []float64{0.01}}, "no variant to dose", nil},
		{"fixed radius", func() DoseConfig {
			c := base(ultra.UltraA)
			c.Settings.Radius, c.Settings.TargetHitRate = 0.3, 0
			return DoseConfig{Base: c, Doses: []float64{0.01}}
		}(), "leave the radius unset", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dc.Validate()
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, tc.dc)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
}

// TestLegacyTuningResolves: records made before ultra.Settings resolve as
// those runs ran: alpha -1 is the task's, anneal -1 the first half, a
// missing reward-on is state (runs before the field), an empty one action
// (what ParseRewardOn made of it), and nothing is left to a sentinel
// (issue 25).
func TestLegacyTuningResolves(t *testing.T) {
	spec := hopperSpec(t)
	for _, tc := range []struct {
		name, js string
		want     ultra.RewardOn
	}{
		{"no reward-on", `{"Alpha": -1, "RadiusQuantile": 0.5, "OverrideProb": 1, "AnnealSteps": -1, "ResetProb": 0.5}`, ultra.RewardOnState},
		{"empty reward-on", `{"Alpha": -1, "RadiusQuantile": 0.5, "OverrideProb": 1, "AnnealSteps": -1, "ResetProb": 0.5, "RewardOn": ""}`, ultra.RewardOnAction},
		{"state", `{"Alpha": 0.3, "RadiusQuantile": 0.5, "OverrideProb": 1, "AnnealSteps": 7, "ResetProb": 0.5, "RewardOn": "state"}`, ultra.RewardOnState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lt legacyTuning
			if err := json.Unmarshal([]byte(tc.js), &lt); err != nil {
				t.Fatal(err)
			}
			s := lt.settings(spec, 1000)
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			if s.RewardOn != tc.want {
				t.Errorf("reward on %q, want %q", s.RewardOn, tc.want)
			}
			if lt.Alpha < 0 && (s.Alpha != 0.1 || s.AnnealSteps != 500) {
				t.Errorf("alpha %v and anneal %v, want hopper's 0.1 and half of 1000", s.Alpha, s.AnnealSteps)
			}
			if lt.Alpha > 0 && (s.Alpha != 0.3 || s.AnnealSteps != 7) {
				t.Errorf("explicit values changed: %+v", s)
			}
		})
	}
}

// hopperSpec is the hopper task.
func hopperSpec(t *testing.T) env.Spec {
	t.Helper()
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestRolloutPolicy: an untrained hopper policy falls within tens of
// steps, so the rollout holds failures; ToFailure counts down to 0 at each
// failing step.
func TestRolloutPolicy(t *testing.T) {
	spec, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	c := ppo.DefaultsFor(spec)
	c.NumSteps, c.NumEnvs, c.NumMinibatches, c.TotalSteps = 64, 1, 1, 64
	tr, err := ppo.New(c, spec, ppo.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := tr.Checkpoint()
	tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	ro, err := RolloutPolicy(ck, spec, 500, 7)
	if err != nil {
		t.Fatal(err)
	}
	if ro.Len() != 500 || len(ro.Obs) != 500*11 || ro.Dim != 11 {
		t.Fatalf("rollout of %d steps, %d values", ro.Len(), len(ro.Obs))
	}
	failures := 0
	for s, k := range ro.ToFailure {
		if k == 0 {
			failures++
		}
		if k > 0 && ro.ToFailure[s+1] != k-1 {
			t.Fatalf("step %d is %d steps from a failure, step %d %d", s, k, s+1, ro.ToFailure[s+1])
		}
	}
	if failures == 0 {
		t.Fatal("an untrained hopper policy never fell in 500 steps")
	}
	again, _ := RolloutPolicy(ck, spec, 500, 7)
	for i := range again.Obs {
		if again.Obs[i] != ro.Obs[i] {
			t.Fatal("the same seed gave another rollout")
		}
	}
	if _, err := RolloutPolicy(ck, spec, 0, 7); err == nil {
		t.Error("0 steps accepted")
	}
}

// TestPlaceboTableAndMarks: with a placebo, the report adds every variant
// compared with it (the placebo is that table's baseline), and this
// project's variants carry † with a note saying so.
func TestPlaceboTableAndMarks(t *testing.T) {
	var runs []report.Run
	for i, v := range []string{"ppo", "ultra-i", "placebo", "ultra-ra"} {
		for s := 1; s <= 5; s++ {
			runs = append(runs, report.Run{Variant: v, Seed: uint64(s), Eval: []float64{float64(100*i + s)}})
		}
	}
	var b strings.Builder
	if err := placeboTable(&b, runs); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"### Compared with the placebo", "| placebo † | 5 |", "| baseline |", "| ultra-i † | 5 |", "| ultra-ra | 5 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("placebo table lacks %q:\n%s", want, md)
		}
	}
	rows, _ := report.Summarize(runs, "ppo", 1)
	note := markOurs(rows)
	if !strings.Contains(note, "ultra-i, placebo") || rows[1].Mark != "†" || rows[3].Mark != "" {
		t.Errorf("note %q, rows %+v", note, rows)
	}
	b.Reset()
	if err := placeboTable(&b, runs[:10]); err != nil || b.Len() != 0 {
		t.Errorf("without a placebo: %q, %v", b.String(), err)
	}
}
