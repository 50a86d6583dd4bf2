package ultra

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/ultra-rl/ultra/engine/traj"
)

// Resetter implements RICE's mixed initial distribution: with probability
// prob an ended episode restarts from a random critical state of the table
// that carries a simulator snapshot. It implements ppo.StateResetter.
type Resetter struct {
	table *Table
	prob  float64
	mu    sync.Mutex
	rng   *rand.Rand
	// Resets counts the episodes restarted at a stored state: the
	// snapshots the trainer restored. FailedResets counts the snapshots it
	// could not restore (those episodes started fresh).
	Resets, FailedResets atomic.Int64
	fresh                []bool // per env: restarted, its first step not yet modulated
}

// takeFresh reports whether env was just restarted at a stored state and
// its first step is being modulated now, clearing the mark.
func (r *Resetter) takeFresh(env int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if env >= len(r.fresh) || !r.fresh[env] {
		return false
	}
	r.fresh[env] = false
	return true
}

// NewResetter restarts a fraction prob of episodes at stored critical states.
func NewResetter(table *Table, prob float64, seed uint64) (*Resetter, error) {
	if !(prob >= 0 && prob <= 1) {
		return nil, fmt.Errorf("ultra: reset probability must lie in [0, 1], got %v", prob)
	}
	return &Resetter{table: table, prob: prob, rng: rand.New(rand.NewPCG(seed, 0x71ce))}, nil
}

// ResetState returns a snapshot to start env's next episode from, or nil.
// Nothing is counted until the trainer reports the restore (Restored).
func (r *Resetter) ResetState(env int) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if env >= 0 && env < len(r.fresh) {
		r.fresh[env] = false
	}
	if r.rng.Float64() >= r.prob {
		return nil
	}
	r.table.mu.RLock()
	defer r.table.mu.RUnlock()
	var with []int
	for i := range r.table.entries {
		if r.table.entries[i].Snapshot != nil {
			with = append(with, i)
		}
	}
	if len(with) == 0 {
		return nil
	}
	return r.table.entries[with[r.rng.IntN(len(with))]].Snapshot
}

// Restored counts the restart of env that ResetState proposed: a restored
// snapshot is a reset, and the episode's first step a reset visit; a failed
// one is counted apart, and its fresh start is an ordinary episode.
func (r *Resetter) Restored(env int, ok bool) {
	if !ok {
		r.FailedResets.Add(1)
		return
	}
	r.Resets.Add(1)
	if env < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.fresh) <= env {
		r.fresh = append(r.fresh, false)
	}
	r.fresh[env] = true
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
