//go:build !render

package mujoco

import (
	"errors"
	"strings"
	"testing"
)

func TestNoRendererSaysHowToGetOne(t *testing.T) {
	m, _ := mustLoad(t)
	_, err := NewRenderer(m, RenderOptions{Width: 8, Height: 8})
	if !errors.Is(err, ErrNoRenderer) {
		t.Fatalf("NewRenderer without the render tag: %v, want ErrNoRenderer", err)
	}
	for _, want := range []string{"apt-get install libosmesa6-dev", "-tags render", "make build-render"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
