package ultra

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

// MatchSpace names the space the table compares states in. Every space
// starts from the policy's normalised observations (so every dimension
// counts alike) and weighs the dimensions.
type MatchSpace string

// The match spaces.
const (
	// MatchFull compares every normalised dimension with weight 1.
	MatchFull MatchSpace = "full"
	// MatchTask compares only the task's subspace (env.Spec.MatchDims):
	// for hopper and walker2d, posture and velocities without the absolute
	// forward velocity.
	MatchTask MatchSpace = "task"
	// MatchScaled divides each normalised dimension by its spread over
	// the collected states (the states the advisor annotated): the policy's
	// normaliser has seen all of pretraining, the collected states show
	// what the agent now does, so a dimension the agent keeps tight (torso
	// height while walking) counts for more.
	MatchScaled MatchSpace = "scaled"
)

// MatchSpaces lists the spaces in report order.
var MatchSpaces = []MatchSpace{MatchFull, MatchTask, MatchScaled}

// DefaultMatchSpace is the default of Settings.MatchSpace.
const DefaultMatchSpace = MatchFull

// minScaledSpread floors a dimension's spread for MatchScaled (in the
// normaliser's units), so that a dimension the collected states hold
// constant does not make every other value a miss.
const minScaledSpread = 0.05

// ParseMatchSpace checks a match space name.
func ParseMatchSpace(s string) (MatchSpace, error) {
	for _, m := range MatchSpaces {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("match space %q: want one of %s", s, joinNames(MatchSpaces))
}

// MatchWeights returns the per-dimension weights of space for spec's
// observations normalised by mean and std: nil (all 1) for MatchFull, 1 on
// spec.MatchDims and 0 elsewhere for MatchTask, the inverse spread of each
// normalised dimension over trajs' states for MatchScaled.
func MatchWeights(space MatchSpace, spec env.Spec, mean, std []float64, trajs []traj.Trajectory) ([]float64, error) {
	n := spec.Observation.Dim
	switch space {
	case MatchFull:
		return nil, nil
	case MatchTask:
		if len(spec.MatchDims) == 0 {
			return nil, fmt.Errorf("task %s names no matching subspace: use match space %s or %s", spec.ID, MatchFull, MatchScaled)
		}
		w := make([]float64, n)
		for _, d := range spec.MatchDims {
			if d < 0 || d >= n {
				return nil, fmt.Errorf("task %s: matching dimension %d outside its %d observation values", spec.ID, d, n)
			}
			w[d] = 1
		}
		return w, nil
	case MatchScaled:
		t, err := NewTable(mean, std, 1)
		if err != nil {
			return nil, err
		}
		var sum, sum2 = make([]float64, n), make([]float64, n)
		count := 0
		key := make([]float32, n)
		for e := range trajs {
			if trajs[e].ObsDim != n {
				return nil, fmt.Errorf("trajectory %s has %d observation values, want %d", trajs[e].ID, trajs[e].ObsDim, n)
			}
			for k := 0; k < trajs[e].Len(); k++ {
				t.Normalize(key, trajs[e].ObsAt(k))
				for j, v := range key {
					sum[j] += float64(v)
					sum2[j] += float64(v) * float64(v)
				}
				count++
			}
		}
		if count < 2 {
			return nil, fmt.Errorf("match space %s learns its scale from the collected states: got %d states, want ≥ 2", MatchScaled, count)
		}
		w := make([]float64, n)
		for j := range w {
			m := sum[j] / float64(count)
			sd := math.Sqrt(math.Max(0, sum2[j]/float64(count)-m*m))
			w[j] = 1 / math.Max(sd, minScaledSpread)
		}
		return w, nil
	}
	return nil, fmt.Errorf("match space %q: want one of %s", space, joinNames(MatchSpaces))
}

// Calibration is how a radius was fitted to a target hit rate.
type Calibration struct {
	// Target is the share of calibration states asked to match.
	Target float64 `json:"target_hit_rate"`
	// HitRate is the share that matches at Radius (≥ Target unless ties
	// or an empty table prevent it).
	HitRate float64 `json:"hit_rate"`
	Radius  float64 `json:"radius"`
	// States is how many calibration states were looked up.
	States int `json:"states"`
}

// Distances returns, for each of the n = len(obs)/dim raw observations in
// obs, the distance in t's matching space to its nearest entry, sorted
// ascending.
func Distances(t *Table, obs []float32, dim int) ([]float64, error) {
	if dim != len(t.mean) || dim == 0 || len(obs)%dim != 0 {
		return nil, fmt.Errorf("ultra: %d calibration values are not whole observations of %d values", len(obs), len(t.mean))
	}
	d := make([]float64, 0, len(obs)/dim)
	for i := 0; i+dim <= len(obs); i += dim {
		d = append(d, t.Nearest(obs[i:i+dim]))
	}
	slices.Sort(d)
	return d, nil
}

// CalibrateRadius returns the smallest radius at which at least a share
// target of the calibration states obs (raw observations of dim values
// each, e.g. a rollout of the policy about to be refined) match an entry
// of t, with the share that matches at it. The table must hold entries.
func CalibrateRadius(t *Table, obs []float32, dim int, target float64) (Calibration, error) {
	if !(target > 0 && target <= 1) {
		return Calibration{}, fmt.Errorf("ultra: target hit rate %v, want a share in (0, 1]", target)
	}
	if t.Len() == 0 {
		return Calibration{}, fmt.Errorf("ultra: calibrating the radius needs critical states in the table, and it is empty")
	}
	d, err := Distances(t, obs, dim)
	if err != nil {
		return Calibration{}, err
	}
	return RadiusFor(d, target)
}

// RadiusFor is CalibrateRadius given the calibration states' sorted
// distances d to their nearest entries (Distances), for callers that try
// several targets on the same states.
func RadiusFor(d []float64, target float64) (Calibration, error) {
	if !(target > 0 && target <= 1) {
		return Calibration{}, fmt.Errorf("ultra: target hit rate %v, want a share in (0, 1]", target)
	}
	if len(d) == 0 {
		return Calibration{}, fmt.Errorf("ultra: no calibration states")
	}
	k := int(math.Ceil(target*float64(len(d)))) - 1
	r := d[max(0, min(len(d)-1, k))]
	if !(r > 0) {
		r = 1e-6
	}
	return Calibration{Target: target, Radius: r, HitRate: HitShare(d, r), States: len(d)}, nil
}

// HitShare is the share of the sorted distances d that are ≤ r.
func HitShare(d []float64, r float64) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	n, _ := slices.BinarySearchFunc(d, r, func(x, r float64) int {
		if x <= r {
			return -1
		}
		return 1
	})
	return float64(n) / float64(len(d))
}

// SuggestRadius derives the table's match radius from data: for each
// state, the distance in the table's matching space to its nearest neighbour in another
// episode, and the q-quantile of those distances (at most 2000 states are
// sampled). With q = 0.5 a critical state matches the live states about as
// often as typical states of different episodes come that close to each
// other — near enough to share the advice, far enough not to match
// everything.
func SuggestRadius(trajs []traj.Trajectory, t *Table, q float64, seed uint64) (float64, error) {
	type pt struct {
		ep  int
		key []float32
	}
	var pts []pt
	for e := range trajs {
		for k := 0; k < trajs[e].Len(); k++ {
			key := make([]float32, trajs[e].ObsDim)
			t.Key(key, trajs[e].ObsAt(k))
			pts = append(pts, pt{e, key})
		}
	}
	if len(trajs) < 2 || len(pts) < 2 {
		return 0, fmt.Errorf("ultra: need states from at least 2 episodes to derive a radius, got %d episodes", len(trajs))
	}
	rng := rand.New(rand.NewPCG(seed, 0x4ad))
	rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
	if len(pts) > 2000 {
		pts = pts[:2000]
	}
	var nn []float64
	for i, a := range pts {
		best := math.Inf(1)
		for j, b := range pts {
			if i == j || a.ep == b.ep {
				continue
			}
			var d float64
			for k := range a.key {
				x := float64(a.key[k] - b.key[k])
				d += x * x
			}
			best = math.Min(best, d)
		}
		if !math.IsInf(best, 1) {
			nn = append(nn, math.Sqrt(best))
		}
	}
	if len(nn) == 0 {
		return 0, fmt.Errorf("ultra: no cross-episode neighbours to derive a radius from")
	}
	sort.Float64s(nn)
	r := nn[min(len(nn)-1, int(q*float64(len(nn))))]
	if !(r > 0) {
		r = 1e-6
	}
	return r, nil
}
