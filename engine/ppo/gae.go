package ppo

// GAE computes generalised advantage estimates over a rollout of T steps of
// N envs, stored step-major (index t*N + i).
//
// ended[t*N+i] says env i's episode ended at step t. A terminated episode
// has no value past its end; a truncated one was already bootstrapped by
// the caller, who added γ·V(final observation) to that step's reward. Either
// way the recursion stops at the boundary. lastValues are V(s_T) for the
// observations after the rollout. returns = advantages + values.
func GAE(rewards, values []float32, ended []bool, lastValues []float32, n int, gamma, lambda float64, adv, returns []float32) {
	t := len(rewards) / n
	for i := 0; i < n; i++ {
		var last float64
		for s := t - 1; s >= 0; s-- {
			k := s*n + i
			var nextV float64
			if s == t-1 {
				nextV = float64(lastValues[i])
			} else {
				nextV = float64(values[k+n])
			}
			notEnd := 1.0
			if ended[k] {
				notEnd = 0
			}
			delta := float64(rewards[k]) + gamma*nextV*notEnd - float64(values[k])
			last = delta + gamma*lambda*notEnd*last
			adv[k] = float32(last)
			returns[k] = float32(last + float64(values[k]))
		}
	}
}
