//go:build !render

package video

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/mujoco"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func TestRecordWithoutRendererSaysHowToGetIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hopper.gif")
	_, err := Record(tasks.HopperSpec(tasks.DefaultHopper()), eval.Zero{}, path, GIF, Options{Episodes: 1})
	if !errors.Is(err, mujoco.ErrNoRenderer) {
		t.Fatalf("err %v, want mujoco.ErrNoRenderer", err)
	}
	for _, want := range []string{"apt-get install libosmesa6-dev", "-tags render", "make build-render"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
