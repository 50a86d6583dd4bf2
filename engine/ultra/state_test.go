package ultra

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/ppo"
)

// TestStateRoundTripAndRefusals: the machinery's saved state, given back to
// a Setup built again, saves the same bytes (random streams, counters,
// trace, radius, RND predictor), and the next draws and scores agree; state
// of another variant, of another version or damaged is refused, saying so.
func TestStateRoundTripAndRefusals(t *testing.T) {
	spec, _, anns := hopperAnnotations(t)
	rms := ppo.RMSState{Mean: make([]float64, 11), Var: ones(11), Count: 1}
	mk := func(v Variant) *Setup {
		t.Helper()
		s, err := NewSetup(rms, spec, Options{Variant: v, Settings: with(Settings{Alpha: 0.1, Radius: 0.5, OverrideProb: 0.5, ResetProb: 0.5}),
			Annotations: anns, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	act := make([]float32, spec.Action.Dim)
	drive := func(s *Setup, from, n int) []float64 {
		var out []float64
		for k := from; k < from+n; k++ {
			a := anns[k%len(anns)]
			_, bonus := s.Modulator.Modulate(0, a.Obs, act)
			out = append(out, bonus)
			if snap := s.Resetter.ResetState(0); snap != nil {
				s.Resetter.Restored(0, true)
			}
		}
		return out
	}
	a := mk(RICE)
	drive(a, 0, 100)
	a.Observe(ppo.IterStats{GlobalStep: 100})
	// A critical state the live stage added during the run.
	live := anns[0]
	live.Episode = "live-" + live.Episode
	if a.Table.Add(live) != 1 {
		t.Fatalf("the live annotation was refused: %v", a.Table.Dropped())
	}
	b1, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	b := mk(RICE)
	if err := b.RestoreState(b1); err != nil {
		t.Fatal(err)
	}
	b2, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatal("the restored machinery saves other state than it was given")
	}
	if b.Table.Len() != a.Table.Len() || b.Table.Add(live) != 0 {
		t.Fatalf("the restored table holds %d entries, the saved one %d (the live addition lost or addable twice)", b.Table.Len(), a.Table.Len())
	}
	if x, y := drive(a, 100, 100), drive(b, 100, 100); len(x) != len(y) || a.Resetter.Resets.Load() != b.Resetter.Resets.Load() {
		t.Fatalf("restarts after the restore: %d, uninterrupted %d", b.Resetter.Resets.Load(), a.Resetter.Resets.Load())
	} else {
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("novelty bonus %d after the restore: %v, uninterrupted %v", i, y[i], x[i])
			}
		}
	}
	if sa, sb := a.Summary(), b.Summary(); sa.Lookups != sb.Lookups || sa.Bonuses != sb.Bonuses || sa.Resets != sb.Resets || len(sb.HitWindows) != 1 {
		t.Errorf("summary after the restore %+v, uninterrupted %+v", sb, sa)
	}
	for _, tc := range []struct {
		name  string
		into  Variant
		state []byte
		want  string
	}{
		{"another variant", UltraRA, b1, "saved by variant rice"},
		{"damaged", RICE, b1[:len(b1)/2], "unreadable"},
		{"not state", RICE, []byte("{}"), "unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := mk(tc.into).RestoreState(tc.state); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "start it again") {
				t.Errorf("got %v, want an error naming %q and the fix", err, tc.want)
			}
		})
	}
}

// FuzzRestoreState: the machinery's state is read from checkpoints, which
// are outside data. Any bytes given to RestoreState are accepted or refused
// with an error, never a panic, and what is accepted keeps the modulator
// answering without a panic or a NaN bonus.
func FuzzRestoreState(f *testing.F) {
	spec := fuzzSpec(f)
	trajs := seedTrajectories(f, spec)
	var anns []advisor.Annotation
	for i, tr := range trajs {
		for _, k := range []int{0, tr.Len() / 2} {
			anns = append(anns, advisor.Annotation{Episode: tr.ID, Step: k, Obs: tr.ObsAt(k), Action: tr.ActionAt(k), Reward: 0.5,
				Taken: tr.ActionAt(k), Snapshot: tr.Snapshots[k], Reason: "seed " + string(rune('a'+i))})
		}
	}
	rms := ppo.RMSState{Mean: make([]float64, 11), Var: ones(11), Count: 1}
	mk := func(t testing.TB) *Setup {
		s, err := NewSetup(rms, spec, Options{Variant: RICE, Settings: with(Settings{Alpha: 0.1, Radius: 0.5, ResetProb: 0.5}), Annotations: anns, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := mk(f)
	for _, a := range anns {
		s.Modulator.Modulate(0, a.Obs, make([]float32, 3))
		s.Resetter.ResetState(0)
	}
	s.Observe(ppo.IterStats{GlobalStep: 10})
	b, err := s.MarshalState()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-7])
	f.Fuzz(func(t *testing.T, b []byte) {
		s := mk(t)
		if s.RestoreState(b) != nil {
			return
		}
		act := make([]float32, 3)
		for _, a := range anns {
			if _, bonus := s.Modulator.Modulate(0, a.Obs, act); math.IsNaN(bonus) {
				t.Fatalf("a NaN bonus after restoring %d bytes of state", len(b))
			}
			if snap := s.Resetter.ResetState(0); snap != nil {
				s.Resetter.Restored(0, true)
			}
		}
		s.Observe(ppo.IterStats{GlobalStep: 20})
		s.Summary()
	})
}
