package run

import (
	"math"
	"strconv"
	"testing"
)

// TestSignificant: log lines carry 4 significant digits of the learning
// rate, not 17 (issue 30, rough edge 20).
func TestSignificant(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want string
	}{
		{0.00028421052631578947, "0.0002842"},
		{3e-4, "0.0003"},
		{1.0273972602739726e-4, "0.0001027"},
		{2.5e-4 * (1 - 7.0/488), "0.0002464"},
		{0, "0"},
		{123456, "123500"},
		{math.NaN(), "NaN"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := strconv.FormatFloat(significant(tc.x, 4), 'f', -1, 64); got != tc.want {
				t.Errorf("significant(%v, 4) = %s, want %s", tc.x, got, tc.want)
			}
		})
	}
}
