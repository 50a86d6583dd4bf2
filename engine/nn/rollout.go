package nn

import (
	"errors"
	"fmt"
	"math"
)

// hostRollout implements SetRollout and GradMinibatch for the backends
// whose maths runs on the host: the rollout is read in place and each
// minibatch is copied into a reused Batch and handed to the backend's Grad.
// Backends embed it and set its fields when they are built.
type hostRollout struct {
	spec    Spec
	grad    func(Batch, LossConfig) (LossStats, error) // the backend's Grad
	closedp *bool                                      // the backend's closed flag
	ro      Batch                                      // the rollout, aliasing the caller's buffers
	mb      Batch                                      // the current minibatch
}

// SetRollout keeps ro (read in place) for GradMinibatch.
func (h *hostRollout) SetRollout(ro Batch) error {
	if *h.closedp {
		return errors.New("nn: SetRollout: backend is closed")
	}
	return h.set(h.spec, ro)
}

// GradMinibatch gathers the samples idx of the rollout and runs Grad on them.
func (h *hostRollout) GradMinibatch(idx []int, normAdv bool, c LossConfig) (LossStats, error) {
	if *h.closedp {
		return LossStats{}, errors.New("nn: GradMinibatch: backend is closed")
	}
	mb, err := h.gather(h.spec, idx, normAdv)
	if err != nil {
		return LossStats{}, err
	}
	return h.grad(mb, c)
}

// checkRollout validates a rollout for SetRollout (every backend uses it).
func (s Spec) checkRollout(b Batch) error {
	return s.checkBatch("SetRollout", b, LossConfig{ClipVLoss: true})
}

// checkIndices validates GradMinibatch's indices against a rollout of n
// samples.
func checkIndices(idx []int, n int) error {
	if n == 0 {
		return errors.New("nn: GradMinibatch: no rollout; call SetRollout first")
	}
	if len(idx) == 0 {
		return errors.New("nn: GradMinibatch: no indices, want at least one sample")
	}
	for i, k := range idx {
		if k < 0 || k >= n {
			return fmt.Errorf("nn: GradMinibatch: idx[%d] = %d is not a sample of the rollout [0, %d)", i, k, n)
		}
	}
	return nil
}

func (h *hostRollout) set(s Spec, b Batch) error {
	if err := s.checkRollout(b); err != nil {
		return err
	}
	h.ro = b
	return nil
}

// gather copies the samples idx into the minibatch, normalising advantages
// over the minibatch when normAdv is set.
func (h *hostRollout) gather(s Spec, idx []int, normAdv bool) (Batch, error) {
	if err := checkIndices(idx, h.ro.N); err != nil {
		return Batch{}, err
	}
	od, ad := s.ObsDim, s.ActDim
	if s.Discrete {
		ad = 1
	}
	n := len(idx)
	mb := &h.mb
	if cap(mb.LogProbs) < n {
		*mb = Batch{Obs: make([]float32, n*od), Actions: make([]float32, n*ad), LogProbs: make([]float32, n),
			Advantages: make([]float32, n), Returns: make([]float32, n), Values: make([]float32, n)}
	}
	mb.N = n
	mb.Obs, mb.Actions = mb.Obs[:n*od], mb.Actions[:n*ad]
	mb.LogProbs, mb.Advantages, mb.Returns, mb.Values = mb.LogProbs[:n], mb.Advantages[:n], mb.Returns[:n], mb.Values[:n]
	ro := &h.ro
	var mean, sq float64
	for j, k := range idx {
		copy(mb.Obs[j*od:(j+1)*od], ro.Obs[k*od:(k+1)*od])
		copy(mb.Actions[j*ad:(j+1)*ad], ro.Actions[k*ad:(k+1)*ad])
		mb.LogProbs[j], mb.Returns[j], mb.Values[j], mb.Advantages[j] = ro.LogProbs[k], ro.Returns[k], ro.Values[k], ro.Advantages[k]
		mean += float64(ro.Advantages[k])
	}
	if !normAdv {
		return *mb, nil
	}
	mean /= float64(n)
	for _, a := range mb.Advantages {
		sq += (float64(a) - mean) * (float64(a) - mean)
	}
	// torch.std is the unbiased estimate; CleanRL adds 1e-8.
	std := math.Sqrt(sq / float64(max(1, n-1)))
	for j, a := range mb.Advantages {
		mb.Advantages[j] = float32((float64(a) - mean) / (std + 1e-8))
	}
	return *mb, nil
}
