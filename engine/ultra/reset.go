package ultra

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Resetter implements RICE's mixed initial distribution: with probability
// prob an ended episode restarts from a random critical state of the table
// that carries a simulator snapshot. It implements ppo.StateResetter.
type Resetter struct {
	table *Table
	prob  float64
	mu    sync.Mutex
	pcg   *rand.PCG // rng's source, saved with each checkpoint (Setup.MarshalState)
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
	pcg := rand.NewPCG(seed, 0x71ce)
	return &Resetter{table: table, prob: prob, pcg: pcg, rng: rand.New(pcg)}, nil
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
