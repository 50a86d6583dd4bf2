package gallery

import (
	"errors"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/engine/traj"
)

// pongStates returns snapshots of a Pong game after 0, 10, 20, … steps.
func pongStates(t *testing.T, n int) [][]float64 {
	t.Helper()
	g, err := pong.New(pong.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	obs := make([]float32, pong.NumFeatures)
	g.Reset(rand.New(rand.NewPCG(1, 2)), obs)
	var snaps [][]float64
	for k := 0; len(snaps) < n; k++ {
		if k%10 == 0 {
			snaps = append(snaps, g.Snapshot(nil))
		}
		g.Step([]float32{pong.ActRight}, obs)
	}
	return snaps
}

func TestWritePong(t *testing.T) {
	spec := pong.Spec(pong.DefaultConfig())
	snaps := pongStates(t, 3)
	tr := traj.Trajectory{ID: "ep1", Env: "pong", Snapshots: [][]float64{snaps[0], snaps[1], snaps[2]}}
	sr := 0.8
	anns := []advisor.Annotation{
		{Episode: "ep0", Step: 4, Reason: "the ball comes low <b>& fast</b>", Action: []float32{pong.ActLeft}, Taken: []float32{pong.ActRight},
			Reward: -0.5, SuggestedReward: &sr, Snapshot: snaps[0], Source: "scripted"},
		{Episode: "ep1", Step: 2, Reason: "from the trajectory's snapshot", Action: []float32{0}, Reward: 0.1, Source: "scripted"},
		{Episode: "ep2", Step: 7, Reason: "no snapshot anywhere", Action: []float32{1}, Reward: 0, Source: "scripted"},
	}
	dir := filepath.Join(t.TempDir(), "gallery")
	res, err := Write(dir, spec, anns, []traj.Trajectory{tr}, Options{Width: 160})
	if err != nil {
		t.Fatal(err)
	}
	if res.Drawn != 2 || res.Missing != 1 || res.Index != filepath.Join(dir, IndexFile) {
		t.Errorf("%+v, want 2 drawn and 1 missing", res)
	}
	b, err := os.ReadFile(res.Index)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	tests := []struct{ name, want string }{
		{"first picture", `<img src="state-001.png"`},
		{"second picture", `<img src="state-002.png"`},
		{"missing state", "no snapshot</div>"},
		{"reason escaped", "the ball comes low &lt;b&gt;&amp; fast&lt;/b&gt;"},
		{"actions by name", "3 (LEFT)"},
		{"taken with its reward", "2 (RIGHT), reward -0.50"},
		{"suggested reward", "reward 0.80"},
		{"unrecorded taken action", "(not recorded), reward 0.10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(page, tc.want) {
				t.Errorf("index.html lacks %q", tc.want)
			}
		})
	}
	// Self-contained apart from its own pictures: no URL with a scheme.
	if m := regexp.MustCompile(`(?i)(src|href)="[a-z]+:`).FindString(page); m != "" {
		t.Errorf("index.html requests %s", m)
	}
	for _, name := range []string{"state-001.png", "state-002.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() != 160 || img.Bounds().Dy() != 210 {
			t.Errorf("%s: %v, %v", name, err, img.Bounds())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state-003.png")); err == nil {
		t.Error("a picture was written for the state without a snapshot")
	}
}

func TestWriteRefuses(t *testing.T) {
	spec := pong.Spec(pong.DefaultConfig())
	snap := pongStates(t, 1)[0]
	tests := []struct {
		name string
		spec env.Spec
		anns []advisor.Annotation
		want error
		text string
	}{
		{"nothing", spec, nil, nil, "no annotations"},
		{"no snapshots", spec, []advisor.Annotation{{Episode: "e", Step: 1}}, ErrNoSnapshots, "--snapshots"},
		{"no renderer", env.Spec{ID: "blind"}, []advisor.Annotation{{Episode: "e", Snapshot: snap}}, env.ErrNotRenderable, "cannot be drawn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "g")
			_, err := Write(dir, tc.spec, tc.anns, nil, Options{})
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err %v, want %v with %q", err, tc.want, tc.text)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Error("the directory was made")
			}
		})
	}
}
