package ppo

import "testing"

// TestDefaultsFor checks which envs get CleanRL's ppo_atari settings and
// which are left unnormalised.
func TestDefaultsFor(t *testing.T) {
	for _, tt := range []struct {
		env            string
		atari, normObs bool
	}{
		{"hopper", false, true},
		{"pong", true, true},
		{"pong-pixels", true, false},
		{"ale:pong", true, true},
		{"ale:breakout-pixels", true, false},
		{"ale:breakout-ram", true, true},
	} {
		c := DefaultsFor(tt.env)
		atari := c.NumEnvs == 8 && c.NumSteps == 128 && c.LearningRate == 2.5e-4 && c.EntCoef == 0.01 && c.ClipCoef == 0.1
		if atari != tt.atari || c.NormObs != tt.normObs || c.Env != tt.env {
			t.Errorf("%s: Atari settings %v, NormObs %v, Env %q; want %v, %v", tt.env, atari, c.NormObs, c.Env, tt.atari, tt.normObs)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: defaults do not validate: %v", tt.env, err)
		}
	}
}
