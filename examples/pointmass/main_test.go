package main

import (
	"io"
	"math"
	"testing"
)

// TestTrains: the example builds, its env passes the VecEnv's checks, and
// PPO trains on it (four envs whose episodes end at different steps, so
// truncations and terminations of a batch mix).
func TestTrains(t *testing.T) {
	first, last, err := train(8192, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(first) || math.IsNaN(last) || last > 0 {
		t.Errorf("returns %v then %v: want finite returns, each at most 0 (the reward is a distance's negative)", first, last)
	}
}
