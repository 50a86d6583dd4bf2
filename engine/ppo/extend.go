package ppo

import (
	"errors"
	"fmt"
)

// ErrNothingToTrain reports a resume of a run that has trained every
// iteration of its plan, with no more steps asked for.
var ErrNothingToTrain = errors.New("the run has trained every step of its plan")

// ExtensionError refuses to extend a finished run whose learning rate was
// annealed: its schedule has reached 0, and a longer plan would restart
// the annealing at a higher rate instead of continuing it.
type ExtensionError struct {
	Done, Steps int     // env steps trained, and the new --steps
	LR          float64 // the rate the longer plan would start again at
}

func (e *ExtensionError) Error() string {
	return fmt.Sprintf("the run finished its %d steps with the learning rate annealed to 0; resuming it with --steps %d would restart the annealing at %.3g, not continue it",
		e.Done, e.Steps, e.LR)
}

// Extend returns ck's configuration planned for steps env steps in all
// (a resume's --steps), or why the plan cannot change so:
//
//   - fewer whole iterations than ck has trained: an error naming the least;
//   - as many as it has trained: ErrNothingToTrain;
//   - more, on a run that has finished with AnnealLR: an *ExtensionError
//     (its rate reached 0; train on from the checkpoint as a new run with a
//     schedule of its own instead);
//   - more, on an unfinished run (or without annealing): the new plan; the
//     annealing goes on over the new total from the next iteration, as a
//     run started with steps would have it there.
func (ck *Checkpoint) Extend(steps int) (Config, error) {
	c := ck.Config
	c.TotalSteps = steps
	done := int(ck.GlobalStep)
	switch n := c.Iterations(); {
	case n < ck.Iteration:
		return c, fmt.Errorf("--steps %d is less than the %d steps the run has trained: give --steps %d or more to train longer", steps, done, done+c.BatchSize())
	case n == ck.Iteration:
		return c, ErrNothingToTrain
	case c.AnnealLR && ck.Iteration >= ck.Config.Iterations():
		return c, &ExtensionError{Done: done, Steps: steps, LR: c.LearningRate * (1 - float64(ck.Iteration)/float64(n))}
	}
	return c, nil
}
