// Package traj holds the one episode type the pipeline passes around: the
// trainer's episode flush emits it, collection records it, the advisors and
// the state interpretation read it, and experiments store it as JSONL.
//
// A Trajectory is the sequence of (state, action, reward) of one finished
// episode of one task; what the trainer knows besides (the modulator's bonus
// and replacements, the final observation) and the simulator states that
// RICE resets to are optional fields.
package traj

import (
	"fmt"

	"github.com/ultra-rl/ultra/engine/env"
)

// Trajectory is one finished episode.
type Trajectory struct {
	ID         string    `json:"id"`  // unique within a run, e.g. "s1-ep000042"
	Env        string    `json:"env"` // task id
	ObsDim     int       `json:"obs_dim"`
	ActDim     int       `json:"act_dim"`
	Obs        []float32 `json:"obs"`     // Len × ObsDim: the state before each step (raw, not normalised)
	Actions    []float32 `json:"actions"` // Len × ActDim: the actions executed (clipped to the space)
	Rewards    []float32 `json:"rewards"` // env rewards, before any bonus or scaling
	Terminated bool      `json:"terminated"`
	Truncated  bool      `json:"truncated"`
	Return     float64   `json:"return"` // Σ Rewards
	// Snapshots optionally holds the simulator state before each step
	// (Len rows), for resetting to a critical state (RICE).
	Snapshots [][]float64 `json:"snapshots,omitempty"`

	// Set by the trainer's episode flush.
	Instance int       `json:"instance,omitempty"`  // index of the env instance in the batch
	Bonus    []float32 `json:"bonus,omitempty"`     // modulator bonus per step
	Replaced []bool    `json:"replaced,omitempty"`  // the modulator chose the step's action
	FinalObs []float32 `json:"final_obs,omitempty"` // the observation after the last step
	Step     int64     `json:"step,omitempty"`      // global env step at which the episode ended
}

// Len is the number of steps.
func (t *Trajectory) Len() int { return len(t.Rewards) }

// ObsAt returns the observation before step k.
func (t *Trajectory) ObsAt(k int) []float32 { return t.Obs[k*t.ObsDim : (k+1)*t.ObsDim] }

// ActionAt returns the action executed at step k.
func (t *Trajectory) ActionAt(k int) []float32 { return t.Actions[k*t.ActDim : (k+1)*t.ActDim] }

// Validate checks that the sizes agree with each other and with spec.
func (t *Trajectory) Validate(spec env.Spec) error {
	n := t.Len()
	switch {
	case t.Env != spec.ID:
		return fmt.Errorf("trajectory %s is from env %q, want %q", t.ID, t.Env, spec.ID)
	case t.ObsDim != spec.Observation.Dim || t.ActDim != spec.Action.Dim:
		return fmt.Errorf("trajectory %s has obs/action dims %d/%d, %s has %d/%d", t.ID, t.ObsDim, t.ActDim, spec.ID, spec.Observation.Dim, spec.Action.Dim)
	case len(t.Obs) != n*t.ObsDim || len(t.Actions) != n*t.ActDim:
		return fmt.Errorf("trajectory %s: %d steps but %d obs and %d action values", t.ID, n, len(t.Obs), len(t.Actions))
	case t.Snapshots != nil && len(t.Snapshots) != n:
		return fmt.Errorf("trajectory %s: %d steps but %d snapshots", t.ID, n, len(t.Snapshots))
	case t.Bonus != nil && len(t.Bonus) != n, t.Replaced != nil && len(t.Replaced) != n:
		return fmt.Errorf("trajectory %s: %d steps but %d bonus and %d replaced flags", t.ID, n, len(t.Bonus), len(t.Replaced))
	}
	for k, s := range t.Snapshots {
		if len(s) != len(t.Snapshots[0]) {
			return fmt.Errorf("trajectory %s: snapshot %d has %d values, snapshot 0 has %d", t.ID, k, len(s), len(t.Snapshots[0]))
		}
		if why := env.CheckSnapshot(s); why != "" {
			return fmt.Errorf("trajectory %s: step %d: %s", t.ID, k, why)
		}
	}
	return nil
}
