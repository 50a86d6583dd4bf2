package nn

import (
	"errors"
	"math"

	"github.com/ultra-rl/ultra/bindings/blas"
)

// This file is the native backend's imitation term (Imitator): a forward
// and a backward pass of the policy MLP over the demonstrations, added to
// the PPO gradient after the chunks are reduced, so that the PPO part is
// bit-identical with and without demonstrations when ImitationCoef is 0.

// SetDemos implements Imitator (MLP policies; the Nature-CNN reads pixel
// observations, which no advisor annotates).
func (b *nativeBackend) SetDemos(obs, actions []float32, n int) error {
	if b.closed {
		return errors.New("nn: SetDemos: backend is closed")
	}
	if b.cnn != nil {
		return errors.New("nn: SetDemos: the Nature-CNN has no imitation term (pixel observations are never annotated)")
	}
	if err := b.spec.checkDemos(obs, actions, n); err != nil {
		return err
	}
	b.demoN = n
	b.demoObs = append(b.demoObs[:0], obs...)
	b.demoAct = append(b.demoAct[:0], actions...)
	if n > 0 && b.demoG == nil {
		b.demoG = make([]float32, len(b.gflat))
	}
	return nil
}

// imitate adds coef × the imitation term's gradient to gflat and returns
// the term (see Imitator).
func (b *nativeBackend) imitate(coef float32) float64 {
	s, n, A := b.spec, b.demoN, b.spec.ActDim
	if len(b.work) == 0 {
		b.work = append(b.work, &nativeWork{})
	}
	ws := b.work[0]
	ws.ensure(b, n)
	x := b.demoObs
	pol := ws.nets[0].out[:n*A]
	b.mlpForward(ws, 0, x, n, pol)
	dPol := ws.dA[:n*A]
	scale := float64(coef) / float64(n)
	var loss float64
	for i := 0; i < n; i++ {
		head := pol[i*A : i*A+A]
		d := dPol[i*A : i*A+A]
		if s.Discrete {
			act := int(b.demoAct[i])
			lse, _ := logSumExp(head)
			loss += lse - float64(head[act])
			for j, l := range head {
				p := math.Exp(float64(l) - lse)
				if j == act {
					p--
				}
				d[j] = float32(scale * p)
			}
			continue
		}
		a := b.demoAct[i*A : i*A+A]
		for j, mu := range head {
			e := float64(mu) - float64(a[j])
			loss += e * e / float64(A)
			d[j] = float32(scale * 2 * e / float64(A))
		}
	}
	// demoG holds only the policy layers' gradient (mlpBackward overwrites
	// those ranges); log_std's and the value net's stay 0.
	b.mlpBackward(ws, 0, n, x, dPol, b.demoG)
	blas.Add(b.gflat, b.demoG)
	return loss / float64(n)
}
