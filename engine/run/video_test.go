package run

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
			// Clips are drawn beside training, one at a time: one due while
			// another is drawn is skipped and logged; the last never is.
			got := map[string]bool{}
			for _, e := range ents {
				got[strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))] = true
			}
			skipped := strings.Count(log.String(), "video capture skipped")
			if len(got)+skipped != len(tc.clips) || !got[tc.clips[len(tc.clips)-1]] {
				t.Errorf("clips %v and %d skipped, want %v; log:\n%s", got, skipped, tc.clips, log.String())
			}
			for c := range got {
				if !slices.Contains(tc.clips, c) {
					t.Errorf("unexpected clip %s", c)
				}
			}
			if strings.Count(log.String(), "msg=video ") != len(got) || strings.Contains(log.String(), "capture failed") {
				t.Errorf("log:\n%s", log.String())
			}
			if i, j := strings.LastIndex(log.String(), "msg=video "), strings.Index(log.String(), "msg=done"); i > j {
				t.Error("the last clip was logged after the loop's end")
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
