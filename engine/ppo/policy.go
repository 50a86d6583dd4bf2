package ppo

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/nn"
)

// Policy acts with a checkpoint's policy network and frozen observation
// statistics. It implements eval.Policy.
type Policy struct {
	net           nn.Backend
	spec          env.Spec
	cfg           Config
	rms           *RunningMeanStd
	Deterministic bool // take the mean action (argmax for discrete) instead of sampling
	rng           *rand.Rand
	pcg           *rand.PCG // rng's source, for Seed
	logStd        []float32
	norm, dist    []float32
	val           []float32
}

// NewPolicy loads the checkpoint's networks for acting on spec.
func NewPolicy(ck *Checkpoint, spec env.Spec, deterministic bool, seed uint64) (*Policy, error) {
	if err := ck.checkFor(spec); err != nil {
		return nil, err
	}
	// Acting runs on the CPU whatever device trained the networks, so that
	// any checkpoint can be evaluated and collected from anywhere.
	cfg := ck.Config
	cfg.Device, cfg.TF32 = "cpu", false
	net, err := NewBackend(cfg, spec)
	if err != nil {
		return nil, err
	}
	if err := loadParams(net, ck, ""); err != nil {
		net.Close()
		return nil, err
	}
	pcg := rand.NewPCG(seed, 0xac7)
	p := &Policy{net: net, spec: spec, cfg: ck.Config, rms: NewRunningMeanStd(spec.Observation.Dim),
		Deterministic: deterministic, rng: rand.New(pcg), pcg: pcg}
	if err := ck.ObsRMS.restore(p.rms); err != nil {
		net.Close()
		return nil, fmt.Errorf("ppo: observation normaliser: %w", err)
	}
	for _, q := range net.Params() {
		if q.Name == "policy.log_std" {
			p.logStd = q.Data
		}
	}
	return p, nil
}

// Close releases the networks.
func (p *Policy) Close() error { return p.net.Close() }

// Seed restarts the generator the policy samples its actions from, as
// NewPolicy's seed does, without allocating: two policies seeded alike draw
// the same noise (the common random numbers of engine/judge's rollouts).
func (p *Policy) Seed(seed uint64) { p.pcg.Seed(seed, 0xac7) }

// Dist writes the policy's distribution at the n raw observations obs
// into dist: n × ActDim Gaussian means, or n × N logits for a Discrete
// space. It returns the Gaussian's log-std (nil for a categorical policy),
// which aliases the networks' parameter and must not be modified.
func (p *Policy) Dist(obs []float32, n int, dist []float32) ([]float32, error) {
	od := p.spec.Observation.Dim
	if len(obs) < n*od || n < 1 {
		return nil, fmt.Errorf("ppo: Dist: %d observation values for %d observations of %d", len(obs), n, od)
	}
	norm := make([]float32, n*od)
	if p.cfg.NormObs {
		p.rms.Normalize(norm, obs, n, p.cfg.ClipObs)
	} else {
		copy(norm, obs[:n*od])
	}
	if err := p.net.Forward(norm, n, dist, make([]float32, n)); err != nil {
		return nil, fmt.Errorf("ppo: Dist: %w", err)
	}
	return p.logStd, nil
}

// Act implements eval.Policy.
func (p *Policy) Act(obs []float32, n int, actions []float32) {
	od := p.spec.Observation.Dim
	dd := p.spec.Action.Dim
	if p.spec.Action.IsDiscrete() {
		dd = p.spec.Action.N
	}
	if len(p.norm) < n*od {
		p.norm, p.dist, p.val = make([]float32, n*od), make([]float32, n*dd), make([]float32, n)
	}
	if p.cfg.NormObs {
		p.rms.Normalize(p.norm, obs, n, p.cfg.ClipObs)
	} else {
		copy(p.norm, obs[:n*od])
	}
	if err := p.net.Forward(p.norm[:n*od], n, p.dist[:n*dd], p.val[:n]); err != nil {
		panic(fmt.Sprintf("ppo: policy forward: %v", err)) // sizes are ours; an error is a bug
	}
	for i := 0; i < n; i++ {
		d := p.dist[i*dd : (i+1)*dd]
		if p.spec.Action.IsDiscrete() {
			if p.Deterministic {
				best := 0
				for j := range d {
					if d[j] > d[best] {
						best = j
					}
				}
				actions[i] = float32(best)
			} else {
				actions[i] = float32(sampleCategorical(d, p.rng))
			}
			continue
		}
		for j := range d {
			a := d[j]
			if !p.Deterministic {
				a += float32(math.Exp(float64(p.logStd[j])) * p.rng.NormFloat64())
			}
			actions[i*dd+j] = min(max(a, p.spec.Action.Low[j]), p.spec.Action.High[j])
		}
	}
}

// ExportSafetensors writes the policy and value networks and the
// observation normaliser as a safetensors file (https://huggingface.co/docs/safetensors):
// tensors "policy.*", "value.*" (float32; weights [out, in], PyTorch's
// nn.Linear layout), "policy.log_std" for continuous actions, and
// "obs_rms.mean" and "obs_rms.var" in float64, as the trainer holds them, so
// that a reader normalises exactly as ultra does. The metadata names the
// env, activation, hidden sizes, observation clipping, the image layout of a
// CNN policy ("image": "C,H,W") and, when action has a dimension, the action
// space ("action_low"/"action_high" as comma-separated numbers for a box,
// "action_n" for a discrete space). To act outside Go (python/ultra_policy.py
// does): a = clip(policy_net(clip((obs − mean)/sqrt(var + 1e-8), ±obs_clip)),
// action_low, action_high), or the argmax of the logits.
func (c *Checkpoint) ExportSafetensors(w io.Writer, action env.Space) error {
	header := map[string]any{}
	var data []byte
	add := func(name string, shape []int, vals []float32) {
		start := len(data)
		for _, f := range vals {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(f))
		}
		header[name] = safetensorsEntry{DType: "F32", Shape: shape, Offsets: [2]int{start, len(data)}}
	}
	names := make([]string, 0, len(c.Tensors))
	shapes := map[string][]int{}
	for _, ti := range c.Tensors {
		if !strings.HasPrefix(ti.Name, "adam.") {
			names = append(names, ti.Name)
			shapes[ti.Name] = ti.Shape
		}
	}
	sort.Strings(names)
	for _, n := range names {
		add(n, shapes[n], c.data[n])
	}
	add64 := func(name string, vals []float64) {
		start := len(data)
		for _, f := range vals {
			data = binary.LittleEndian.AppendUint64(data, math.Float64bits(f))
		}
		header[name] = safetensorsEntry{DType: "F64", Shape: []int{len(vals)}, Offsets: [2]int{start, len(data)}}
	}
	add64("obs_rms.mean", c.ObsRMS.Mean)
	add64("obs_rms.var", c.ObsRMS.Var)
	hidden := make([]string, len(c.Net.Hidden))
	for i, h := range c.Net.Hidden {
		hidden[i] = strconv.Itoa(h)
	}
	meta := map[string]string{
		"format": "ultra-ppo-v1", "env": c.Config.Env, "activation": c.Config.Activation,
		"hidden": strings.Join(hidden, ","), "norm_obs": strconv.FormatBool(c.Config.NormObs),
		"obs_clip": strconv.FormatFloat(c.Config.ClipObs, 'g', -1, 64), "obs_eps": "1e-8",
		"discrete": strconv.FormatBool(c.Net.Discrete), "global_step": strconv.FormatInt(c.GlobalStep, 10),
	}
	if c.Net.IsImage() {
		im := c.Net.Image
		meta["image"] = fmt.Sprintf("%d,%d,%d", im[0], im[1], im[2])
	}
	switch {
	case action.IsDiscrete():
		meta["action_n"] = strconv.Itoa(action.N)
	case action.Dim > 0:
		list := func(v []float32) string {
			s := make([]string, len(v))
			for i, x := range v {
				s[i] = strconv.FormatFloat(float64(x), 'g', -1, 32) // ±Inf for an unbounded dimension
			}
			return strings.Join(s, ",")
		}
		meta["action_low"], meta["action_high"] = list(action.Low), list(action.High)
	}
	header["__metadata__"] = meta
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 { // align the data section to 8 bytes
		hb = append(hb, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	out = append(out, hb...)
	_, err = w.Write(append(out, data...))
	return err
}
