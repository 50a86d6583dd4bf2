//go:build !render

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestVideoWithoutRendererSaysHowToGetIt(t *testing.T) {
	_, err := runCLI(t, "video", "--env", "hopper", "--policy", "zero", "--out", filepath.Join(t.TempDir(), "h.gif"))
	if err == nil {
		t.Fatal("a MuJoCo video without the renderer: no error")
	}
	for _, want := range []string{"sudo apt-get install libosmesa6-dev", "make build-render"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
