package advisor

import (
	"math"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
)

func TestClampAction(t *testing.T) {
	box := env.Box([]float32{-1, 0}, []float32{1, 2})
	a := []float32{3, -1}
	if !ClampAction(a, box) || a[0] != 1 || a[1] != 0 {
		t.Errorf("clamp %v", a)
	}
	if ClampAction([]float32{float32(math.NaN()), 0}, box) {
		t.Error("NaN accepted")
	}
	d := []float32{7.6}
	if !ClampAction(d, env.Discrete(6)) || d[0] != 5 {
		t.Errorf("discrete %v", d)
	}
}
