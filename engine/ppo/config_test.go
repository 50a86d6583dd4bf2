package ppo

import (
	"reflect"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
)

// TestDefaultsFor checks which specs get CleanRL's ppo_atari settings (the
// Atari family) and which are left unnormalised (images).
func TestDefaultsFor(t *testing.T) {
	img := [3]int{4, 84, 84}
	for _, tt := range []struct {
		spec           env.Spec
		atari, normObs bool
	}{
		{hopper(t), false, true},
		{pong.Specs()[0], true, true},
		{pong.Specs()[1], true, false},
		{env.Spec{ID: "ale:breakout-pixels", Family: env.FamilyAtari, Image: img}, true, false},
		{env.Spec{ID: "ale:breakout-ram", Family: env.FamilyAtari}, true, true},
		{env.Spec{ID: "custom"}, false, true},
	} {
		c := DefaultsFor(tt.spec)
		atari := c.NumEnvs == 8 && c.NumSteps == 128 && c.LearningRate == 2.5e-4 && c.EntCoef == 0.01 && c.ClipCoef == 0.1
		if atari != tt.atari || c.NormObs != tt.normObs || c.Env != tt.spec.ID {
			t.Errorf("%s: Atari settings %v, NormObs %v, Env %q; want %v, %v", tt.spec.ID, atari, c.NormObs, c.Env, tt.atari, tt.normObs)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: defaults do not validate: %v", tt.spec.ID, err)
		}
	}
}

// TestConfigDocumented: every option has a YAML key and a help text, the
// one place the options are documented (the flags of `ultra train` read
// it).
func TestConfigDocumented(t *testing.T) {
	ty := reflect.TypeOf(Config{})
	for i := 0; i < ty.NumField(); i++ {
		f := ty.Field(i)
		if f.Tag.Get("yaml") == "" || len(f.Tag.Get("help")) < 8 {
			t.Errorf("Config.%s: yaml key %q, help %q; want both", f.Name, f.Tag.Get("yaml"), f.Tag.Get("help"))
		}
	}
}
