package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/ultra-rl/ultra/bindings/blas"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/nn"
	"github.com/ultra-rl/ultra/engine/ppo"
)

// UpdateOptions is a PPO-update benchmark: the workload of
// bench/ppo_update_torch.py. Net "mlp" is the hopper-sized MLP pair
// (CleanRL ppo_continuous_action's update), "cnn" the Nature-CNN on
// 4×84×84 frames with 6 actions (ppo_atari's update). Zero Batch,
// Minibatch and Epochs take the net's defaults: 2048/64/10 for mlp,
// 1024/256/4 for cnn.
type UpdateOptions struct {
	Backend   string // native or gorgonia (ppo.Config.Backend; the CUDA networks are the native ones on Device cuda)
	Device    string // cpu ("" too) or cuda (ppo.Config.Device)
	Net       string // mlp or cnn
	TF32      bool   // cuda: TF32 tensor cores
	Obs, Act  int    // mlp sizes
	Hidden    int    // mlp width (two layers)
	Batch     int    // rollout samples per update
	Minibatch int
	Epochs    int
	Rounds    int // timed updates (the median is reported)
}

// UpdateResult is a measured update.
type UpdateResult struct {
	Impl          string  `json:"impl"` // "ultra-<backend>[-tf32]"
	Net           string  `json:"net"`
	Batch         int     `json:"batch"`
	Minibatch     int     `json:"minibatch"`
	Hidden        int     `json:"hidden"`
	Epochs        int     `json:"epochs"`
	UpdateSeconds float64 `json:"update_seconds"`
	SamplesPerSec float64 `json:"samples_per_second"`
	GOMAXPROCS    int     `json:"gomaxprocs"`
	Device        string  `json:"device"`
	// Kernels names the native backend's kernels in this build on this
	// CPU: the sgemm and the element-wise loops (empty for the others).
	Kernels string `json:"kernels,omitempty"`
}

// Update times PPO updates (forward + backward + Adam over every minibatch
// of every epoch; the rollout handed over once with SetRollout and
// minibatches named by index, their advantages normalised) on a synthetic
// rollout.
func Update(o UpdateOptions) (UpdateResult, error) {
	cnn := o.Net == "cnn"
	def := func(v *int, mlp, cnnV int) {
		if *v == 0 {
			*v = mlp
			if cnn {
				*v = cnnV
			}
		}
	}
	def(&o.Batch, 2048, 1024)
	def(&o.Minibatch, 64, 256)
	def(&o.Epochs, 10, 4)
	switch {
	case o.Net != "mlp" && o.Net != "cnn":
		return UpdateResult{}, fmt.Errorf("bench: net %q, want mlp or cnn", o.Net)
	case o.Batch < 1 || o.Minibatch < 1 || o.Minibatch > o.Batch || o.Epochs < 1 || o.Rounds < 1 || o.Hidden < 1 || o.Obs < 1 || o.Act < 1:
		return UpdateResult{}, fmt.Errorf("bench: want batch ≥ minibatch ≥ 1 and epochs, rounds, hidden, obs, act ≥ 1, got %+v", o)
	}
	cfg := ppo.Defaults()
	cfg.Hidden = []int{o.Hidden, o.Hidden}
	cfg.Backend, cfg.TF32 = o.Backend, o.TF32
	if o.Device != "" {
		cfg.Device = o.Device
	}
	if err := cfg.Validate(); err != nil {
		return UpdateResult{}, err
	}
	var spec env.Spec
	loss := nn.LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: true}
	lr := float32(3e-4)
	if cnn {
		img := [3]int{4, 84, 84}
		spec = env.Spec{Observation: env.UnboundedBox(img[0] * img[1] * img[2]), Action: env.Discrete(6), Image: img}
		loss, lr = nn.LossConfig{ClipCoef: 0.1, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 2.5e-4
	} else {
		lo, hi := make([]float32, o.Act), make([]float32, o.Act)
		spec = env.Spec{Observation: env.UnboundedBox(o.Obs), Action: env.Box(lo, hi)}
	}
	net, err := ppo.NewBackend(cfg, spec)
	if err != nil {
		return UpdateResult{}, err
	}
	defer net.Close()
	ro, err := syntheticRollout(net, o.Batch, cnn)
	if err != nil {
		return UpdateResult{}, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	B, n := o.Batch, o.Minibatch
	perm := make([]int, B)
	for i := range perm {
		perm[i] = i
	}
	update := func() error {
		if err := net.SetRollout(ro); err != nil {
			return err
		}
		for e := 0; e < o.Epochs; e++ {
			rng.Shuffle(B, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			for st := 0; st+n <= B; st += n {
				if _, err := net.GradMinibatch(perm[st:st+n], true, loss); err != nil {
					return err
				}
				if _, err := net.Step(lr, 0.5); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := update(); err != nil { // warm-up
		return UpdateResult{}, err
	}
	var times []float64
	for r := 0; r < o.Rounds; r++ {
		t0 := time.Now()
		if err := update(); err != nil {
			return UpdateResult{}, err
		}
		times = append(times, time.Since(t0).Seconds())
	}
	sec := median(times)
	impl := o.Backend
	if cfg.Device == "cuda" {
		impl = "cuda"
	}
	res := UpdateResult{Impl: "ultra-" + impl, Net: o.Net, Batch: B, Minibatch: n, Hidden: o.Hidden, Epochs: o.Epochs,
		UpdateSeconds: sec, SamplesPerSec: float64(B*o.Epochs) / sec, GOMAXPROCS: runtime.GOMAXPROCS(0),
		Device: fmt.Sprintf("cpu (GOMAXPROCS %d)", runtime.GOMAXPROCS(0))}
	if o.TF32 {
		res.Impl += "-tf32"
	}
	if impl == "native" {
		res.Kernels = fmt.Sprintf("sgemm %s; element-wise %s", blas.Impl, blas.KernelsImpl)
	}
	if d, ok := net.(interface{ DeviceName() string }); ok {
		res.Device = d.DeviceName()
	}
	return res, nil
}

// syntheticRollout makes a rollout of B samples for net: random
// observations (frames in [0, 1] for the CNN) and actions, the network's
// own log-probabilities and values, random advantages and returns.
func syntheticRollout(net nn.Backend, B int, cnn bool) (nn.Batch, error) {
	s := net.Spec()
	rng := rand.New(rand.NewPCG(1, 1))
	od, aw := s.ObsDim, s.ActDim
	if s.Discrete {
		aw = 1
	}
	ro := nn.Batch{N: B, Obs: make([]float32, B*od), Actions: make([]float32, B*aw), LogProbs: make([]float32, B),
		Advantages: make([]float32, B), Returns: make([]float32, B), Values: make([]float32, B)}
	for i := range ro.Obs {
		if cnn {
			ro.Obs[i] = float32(rng.Float64())
		} else {
			ro.Obs[i] = float32(rng.NormFloat64())
		}
	}
	for i := range ro.Actions {
		if cnn {
			ro.Actions[i] = float32(rng.IntN(s.ActDim))
		} else {
			ro.Actions[i] = float32(rng.NormFloat64())
		}
	}
	dist := make([]float32, B*s.ActDim)
	if err := net.Forward(ro.Obs, B, dist, ro.Values); err != nil {
		return ro, err
	}
	var logStd []float32
	for _, p := range net.Params() {
		if p.Name == "policy.log_std" {
			logStd = p.Data
		}
	}
	for i := 0; i < B; i++ {
		d := dist[i*s.ActDim : (i+1)*s.ActDim]
		if cnn {
			ro.LogProbs[i] = float32(nn.CategoricalLogProb(d, int(ro.Actions[i])))
		} else {
			ro.LogProbs[i] = float32(nn.GaussianLogProb(d, logStd, ro.Actions[i*aw:(i+1)*aw]))
		}
		ro.Advantages[i] = float32(rng.NormFloat64())
		ro.Returns[i] = ro.Values[i] + float32(rng.NormFloat64())
	}
	return ro, nil
}
