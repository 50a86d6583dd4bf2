package nn

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestParallelBackends runs independent backends on separate goroutines;
// run with -race to check that gorgonia's shared state is guarded.
func TestParallelBackends(t *testing.T) {
	var wg sync.WaitGroup
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := NewGorgonia(Spec{ObsDim: 3, ActDim: 2, Discrete: k%2 == 0, Hidden: []int{5}, Activation: []string{"tanh", "relu"}[k/2]}, 1, AdamConfig{})
			if err != nil {
				t.Error(err)
				return
			}
			defer b.Close()
			bt := makeBatch(b, rand.New(rand.NewPCG(1, uint64(k))), 16, 0.3, 0.3)
			dist, vals := make([]float32, 16*2), make([]float32, 16)
			for i := range 10 {
				if _, err := b.Grad(bt, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: i%2 == 0}); err != nil {
					t.Error(err)
					return
				}
				if _, err := b.Step(1e-3, 0.5); err != nil {
					t.Error(err)
					return
				}
				if err := b.Forward(bt.Obs, 16, dist, vals); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
