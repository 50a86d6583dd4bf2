package run

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/engine/ppo"
)

func TestCaptureVideo(t *testing.T) {
	spec := pong.Spec(pong.DefaultConfig()) // Pong draws in every build
	tests := []struct {
		name  string
		every int
		iters int
		clips []string
	}{
		{"every iteration", 1, 3, []string{"iter-000001", "iter-000002", "iter-000003"}},
		{"every 2nd and the last", 2, 3, []string{"iter-000002", "iter-000003"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ppo.DefaultsFor(spec)
			c.NumEnvs, c.NumSteps, c.NumMinibatches, c.UpdateEpochs = 2, 32, 2, 1
			c.TotalSteps = tc.iters * c.BatchSize()
			tr, err := ppo.New(c, spec, ppo.Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			dir := t.TempDir()
			var log strings.Builder
			if _, err := Loop(t.Context(), tr, Options{Dir: dir, Every: 10, Logger: slog.New(slog.NewTextHandler(&log, nil)),
				Video: &Capture{Every: tc.every, Steps: 5, Width: 40}}); err != nil {
				t.Fatal(err)
			}
			ents, err := os.ReadDir(filepath.Join(dir, VideoDir))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range ents {
				got = append(got, strings.TrimSuffix(e.Name(), filepath.Ext(e.Name())))
			}
			if strings.Join(got, " ") != strings.Join(tc.clips, " ") {
				t.Errorf("clips %v, want %v; log:\n%s", got, tc.clips, log.String())
			}
			if strings.Count(log.String(), "msg=video ") != len(tc.clips) || strings.Contains(log.String(), "capture failed") {
				t.Errorf("log:\n%s", log.String())
			}
		})
	}
}

func TestCaptureCheck(t *testing.T) {
	tests := []struct {
		name string
		c    *Capture
		spec env.Spec
		want string
	}{
		{"off", nil, env.Spec{ID: "blind"}, ""},
		{"pong", &Capture{Every: 5}, pong.Spec(pong.DefaultConfig()), ""},
		{"period", &Capture{Every: 0}, pong.Spec(pong.DefaultConfig()), "must be ≥ 1"},
		{"no renderer", &Capture{Every: 5}, env.Spec{ID: "blind"}, "blind: this task cannot be drawn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Check(tc.spec)
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}
