//go:build render

package gallery

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func TestWriteHopper(t *testing.T) {
	spec := tasks.HopperSpec(tasks.DefaultHopper())
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	trajs, err := eval.Collect(v, eval.Zero{}, 1, 1, "", true)
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	last := len(trajs[0].Rewards) - 1
	anns := []advisor.Annotation{
		{Episode: trajs[0].ID, Step: 0, Reason: "upright", Action: []float32{0, 0, 0}, Source: "test"},
		{Episode: trajs[0].ID, Step: last, Reason: "falling", Action: []float32{1, 0, 0}, Source: "test"},
	}
	dir := t.TempDir()
	res, err := Write(dir, spec, anns, trajs, Options{Width: 120, Height: 90})
	if err != nil {
		t.Fatal(err)
	}
	if res.Drawn != 2 || res.Missing != 0 {
		t.Fatalf("%+v", res)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "state-001.png"))
	b, _ := os.ReadFile(filepath.Join(dir, "state-002.png"))
	if len(a) == 0 || bytes.Equal(a, b) {
		t.Errorf("the upright and the falling hopper gave the same picture (%d bytes)", len(a))
	}
}
