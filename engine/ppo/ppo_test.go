package ppo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/nn"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/memlimit"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func hopper(t testing.TB) env.Spec {
	s, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// small is a quick config: 2 envs × 64 steps, 4 minibatches, 2 epochs.
func small() Config {
	c := Defaults()
	c.NumEnvs, c.NumSteps, c.NumMinibatches, c.UpdateEpochs = 2, 64, 4, 2
	c.TotalSteps = 128 * 6
	c.Seed = 3
	return c
}

func TestGAEHandComputed(t *testing.T) {
	// One env, 4 steps, γ = 0.9, λ = 0.5. The episode terminates after step
	// 1 (no value past it); steps 2-3 run on and bootstrap from lastValue.
	r := []float32{1, 2, 3, 4}
	v := []float32{0.5, 1, 1.5, 2}
	ended := []bool{false, true, false, false}
	adv, ret := make([]float32, 4), make([]float32, 4)
	GAE(r, v, ended, []float32{10}, 1, 0.9, 0.5, adv, ret)
	d3 := 4 + 0.9*10 - 2.0 // 11
	d2 := 3 + 0.9*2 - 1.5  // 3.3
	d1 := 2 - 1.0          // 1 (terminal)
	d0 := 1 + 0.9*1 - 0.5  // 1.4
	want := []float64{d0 + 0.45*d1, d1, d2 + 0.45*d3, d3}
	for i := range want {
		if math.Abs(float64(adv[i])-want[i]) > 1e-5 || math.Abs(float64(ret[i]-v[i]-adv[i])) > 1e-6 {
			t.Errorf("step %d: adv %v want %v (ret %v)", i, adv[i], want[i], ret[i])
		}
	}
	// Two envs interleaved step-major give each env its own recursion.
	r2 := []float32{1, 0, 2, 0}
	v2 := []float32{0, 0, 0, 0}
	e2 := []bool{false, false, true, false}
	adv2, ret2 := make([]float32, 4), make([]float32, 4)
	GAE(r2, v2, e2, []float32{5, 7}, 2, 1, 1, adv2, ret2)
	if adv2[0] != 3 || adv2[2] != 2 || adv2[1] != 7 || adv2[3] != 7 {
		t.Errorf("two envs: %v", adv2)
	}
}

func TestTruncatedEpisodesAreBootstrapped(t *testing.T) {
	spec := hopper(t)
	spec.MaxEpisodeSteps = 5 // every episode ends by truncation unless it falls first
	c := small()
	c.NumEnvs, c.NormReward, c.NormObs = 1, false, false
	var eps []*traj.Trajectory
	tr, err := New(c, spec, Hooks{OnEpisode: func(e *traj.Trajectory) { eps = append(eps, e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// The rollout alone, so that the networks are the ones that bootstrapped.
	var st IterStats
	var ret, length float64
	for s := 0; s < c.NumSteps; s++ {
		if err := tr.rolloutStep(s, &st, &ret, &length); err != nil {
			t.Fatal(err)
		}
	}
	// With reward scaling off, the stored reward of a truncated step is the
	// env reward plus γ·V(final observation), exactly; elsewhere it is the
	// env reward.
	truncated := 0
	dist, v := make([]float32, 3), make([]float32, 1)
	for _, e := range eps {
		k := int(e.Step) - 1 // one env: the buffer index of the episode's last step
		want := e.Rewards[e.Len()-1]
		if e.Truncated {
			truncated++
			if err := tr.net.Forward(e.FinalObs, 1, dist, v); err != nil {
				t.Fatal(err)
			}
			want += float32(c.Gamma) * v[0]
		}
		if tr.rewards[k] != want || tr.rewards[k] == e.Rewards[e.Len()-1] && e.Truncated {
			t.Errorf("step %d (truncated %v): stored reward %v, want env reward %v + γ·V = %v", k, e.Truncated, tr.rewards[k], e.Rewards[e.Len()-1], want)
		}
	}
	if truncated == 0 {
		t.Fatal("no episode was truncated")
	}
}

func TestRunningMeanStdMatchesDirect(t *testing.T) {
	r := NewRunningMeanStd(2)
	rng := rand.New(rand.NewPCG(1, 1))
	var all [][2]float64
	for b := 0; b < 5; b++ {
		x := make([]float32, 2*7)
		for i := 0; i < 7; i++ {
			x[2*i], x[2*i+1] = float32(rng.NormFloat64()*3+1), float32(rng.Float64())
			all = append(all, [2]float64{float64(x[2*i]), float64(x[2*i+1])})
		}
		r.Update(x, 7)
	}
	for j := 0; j < 2; j++ {
		var m, v float64
		for _, a := range all {
			m += a[j]
		}
		m /= float64(len(all))
		for _, a := range all {
			v += (a[j] - m) * (a[j] - m)
		}
		v /= float64(len(all))
		if math.Abs(r.Mean[j]-m) > 1e-4 || math.Abs(r.Var[j]-v) > 1e-3 {
			t.Errorf("dim %d: mean %v var %v, direct %v %v", j, r.Mean[j], r.Var[j], m, v)
		}
	}
	dst := make([]float32, 2)
	r.Normalize(dst, []float32{1e6, float32(r.Mean[1])}, 1, 10)
	if dst[0] != 10 || math.Abs(float64(dst[1])) > 1e-6 {
		t.Errorf("normalize: %v", dst)
	}
}

// recorder replaces env 0's action at every step with a fixed in-space
// action and gives env 1 a bonus.
type recorder struct{ calls int }

func (r *recorder) Modulate(i int, obs, a []float32) (bool, float64) {
	r.calls++
	if i == 0 {
		copy(a, []float32{0.25, -0.5, 0.75})
		return true, 0
	}
	return false, 0.5
}

func TestHooksReplaceActionAddBonusAndFlushEpisodes(t *testing.T) {
	c := small()
	c.NormReward = false
	mod := &recorder{}
	var eps []*traj.Trajectory
	tr, err := New(c, hopper(t), Hooks{Modulator: mod, OnEpisode: func(e *traj.Trajectory) { eps = append(eps, e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// Keep the behaviour-policy outputs of one step to check the stored log-prob.
	st, err := tr.Iterate()
	if err != nil {
		t.Fatal(err)
	}
	if mod.calls != c.NumSteps*c.NumEnvs || st.Overrides != c.NumSteps || st.Bonuses != c.NumSteps {
		t.Fatalf("calls %d overrides %d bonuses %d", mod.calls, st.Overrides, st.Bonuses)
	}
	for s := 0; s < c.NumSteps; s++ {
		k := s * c.NumEnvs
		a := tr.actions[k*3 : k*3+3]
		if a[0] != 0.25 || a[1] != -0.5 || a[2] != 0.75 {
			t.Fatalf("step %d: stored action %v is not the executed one", s, a)
		}
	}
	if len(eps) == 0 {
		t.Fatal("no episode flushed")
	}
	for _, e := range eps {
		var sum float64
		for k, r := range e.Rewards {
			sum += float64(r)
			if e.Instance == 0 && (!e.Replaced[k] || e.Actions[3*k] != 0.25) {
				t.Fatalf("env 0 step %d: replaced %v action %v", k, e.Replaced[k], e.Actions[3*k:3*k+3])
			}
			if e.Instance == 1 && e.Bonus[k] != 0.5 {
				t.Fatalf("env 1 bonus %v", e.Bonus[k])
			}
		}
		if math.Abs(sum-e.Return) > 1e-4 || len(e.Obs) != e.Len()*11 || !(e.Terminated || e.Truncated) {
			t.Fatalf("episode: return %v vs Σ %v, obs %d, len %d", e.Return, sum, len(e.Obs), e.Len())
		}
	}
}

func TestReplacedActionLogProbIsBehaviourPolicy(t *testing.T) {
	c := small()
	tr, err := New(c, hopper(t), Hooks{Modulator: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// Recompute, for step 0, the policy's log-prob of the replaced action.
	obs := append([]float32(nil), tr.normObs...)
	dist, val := make([]float32, 2*3), make([]float32, 2)
	if err := tr.net.Forward(obs, 2, dist, val); err != nil {
		t.Fatal(err)
	}
	want := nn.GaussianLogProb(dist[:3], tr.logStd, []float32{0.25, -0.5, 0.75})
	if err := tr.rolloutStep(0, &IterStats{}, new(float64), new(float64)); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(tr.logp[0])-want) > 1e-5 {
		t.Fatalf("stored log-prob %v, behaviour policy gives %v", tr.logp[0], want)
	}
}

func paramsOf(tr *Trainer) []float32 {
	var out []float32
	for _, p := range tr.net.Params() {
		out = append(out, p.Data...)
	}
	return out
}

func TestCheckpointResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	c := small()
	full, err := New(c, hopper(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	var fullStats []IterStats
	for !full.Done() {
		st, err := full.Iterate()
		if err != nil {
			t.Fatal(err)
		}
		fullStats = append(fullStats, st)
	}

	part, _ := New(c, hopper(t), Hooks{})
	for i := 0; i < 3; i++ {
		part.Iterate()
	}
	ck, err := part.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ckpt.bin")
	if err := ck.Save(path); err != nil {
		t.Fatal(err)
	}
	part.Close()
	loaded, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resume(loaded, hopper(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if res.GlobalStep() != 3*128 || res.Iteration() != 3 {
		t.Fatalf("resumed at step %d iteration %d", res.GlobalStep(), res.Iteration())
	}
	for i := 3; !res.Done(); i++ {
		st, err := res.Iterate()
		if err != nil {
			t.Fatal(err)
		}
		f := fullStats[i]
		if st.PolicyLoss != f.PolicyLoss || st.ValueLoss != f.ValueLoss || st.ApproxKL != f.ApproxKL || st.GlobalStep != f.GlobalStep {
			t.Fatalf("iteration %d differs: resumed %+v, uninterrupted %+v", i+1, st, f)
		}
	}
	a, b := paramsOf(full), paramsOf(res)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("parameter %d differs after resume: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestCorruptCheckpointsAreRejected(t *testing.T) {
	tr, _ := New(small(), hopper(t), Hooks{})
	defer tr.Close()
	ck, _ := tr.Checkpoint()
	var buf bytes.Buffer
	ck.Encode(&buf)
	good := buf.Bytes()
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 1
	wrongVer := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(wrongVer[8:], 99)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated", good[:len(good)-100], "checksum mismatch"},
		{"bit flip", flip, "checksum mismatch"},
		{"tiny", good[:10], "too short"},
		{"not ours", append([]byte("PK\x03\x04xxxxxxxxxxxxxxxx"), make([]byte, 40)...), "bad magic"},
		{"version", wrongVer, "checksum mismatch"},
	} {
		if _, err := DecodeCheckpoint(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := DecodeCheckpoint(good); err != nil {
		t.Fatal(err)
	}
	// A header from an older build lacks newer config fields: they take defaults.
	old := *ck
	old.Config.Device, old.Config.Backend = "", ""
	hdr, _ := json.Marshal(old)
	hdr = bytes.Replace(hdr, []byte(`"Device":"",`), nil, 1)
	hdr = bytes.Replace(hdr, []byte(`"Backend":"",`), nil, 1)
	var ob bytes.Buffer
	old.Encode(&ob) // to learn the tensor bytes
	body := ob.Bytes()[:ob.Len()-32]
	n := binary.LittleEndian.Uint64(body[12:20])
	legacy := append(append(append([]byte(nil), body[:12]...), binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))...), hdr...)
	legacy = append(legacy, body[20+n:]...)
	sum := sha256.Sum256(legacy)
	dec, err := DecodeCheckpoint(append(legacy, sum[:]...))
	if err != nil || dec.Config.Device != "cpu" || dec.Config.Backend != "native" {
		t.Fatalf("legacy header: %v, device %q backend %q", err, dec.Config.Device, dec.Config.Backend)
	}
	if _, err := LoadCheckpoint(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing: %v", err)
	}
}

func TestSafetensorsExport(t *testing.T) {
	tr, _ := New(small(), hopper(t), Hooks{})
	defer tr.Close()
	ck, _ := tr.Checkpoint()
	var buf bytes.Buffer
	if err := ck.ExportSafetensors(&buf, tr.Spec().Action); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	if (8+n)%8 != 0 {
		t.Errorf("data section not 8-aligned")
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	data := b[8+n:]
	total := 0
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		json.Unmarshal(raw, &e)
		size, dtype := 4, "F32"
		if strings.HasPrefix(name, "obs_rms.") { // the normaliser as the trainer holds it
			size, dtype = 8, "F64"
		}
		for _, d := range e.Shape {
			size *= d
		}
		if e.DType != dtype || e.Offsets[1]-e.Offsets[0] != size || e.Offsets[1] > len(data) {
			t.Errorf("%s: %+v", name, e)
		}
		total += size
		if name == "policy.0.weight" {
			got := math.Float32frombits(binary.LittleEndian.Uint32(data[e.Offsets[0]:]))
			if got != ck.Tensor(name)[0] {
				t.Errorf("first weight %v want %v", got, ck.Tensor(name)[0])
			}
		}
	}
	if total != len(data) || hdr["obs_rms.mean"] == nil || !strings.Contains(string(hdr["__metadata__"]), `"env":"hopper"`) ||
		!strings.Contains(string(hdr["__metadata__"]), `"action_low":"-1,-1,-1"`) {
		t.Errorf("total %d data %d; header %s", total, len(data), b[8:8+n])
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.NumEnvs = 0 }, "envs = 0, want ≥ 1"},
		{func(c *Config) { c.LearningRate = 2 }, "learning-rate = 2, want in (0, 1)"},
		{func(c *Config) { c.Gamma = 1.5 }, "gamma = 1.5, want in [0, 1]"},
		{func(c *Config) { c.NumMinibatches = 5000 }, "num-minibatches = 5000"},
		{func(c *Config) { c.TotalSteps = 10 }, "steps = 10, want ≥ envs × num-steps = 2048"},
		{func(c *Config) { c.Activation = "gelu" }, `activation = "gelu"`},
		{func(c *Config) { c.EntCoef = math.NaN() }, "ent-coef"},
	} {
		c := Defaults()
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	if err := Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestLearnsHopper: PPO must clearly improve a fresh hopper within a short
// budget (about 20 s on 2 cores with the default backend).
func TestLearnsHopper(t *testing.T) {
	if testing.Short() {
		t.Skip("learning test skipped in -short mode")
	}
	c := Defaults()
	c.TotalSteps, c.Seed = 2048*10, 1
	tr, err := New(c, hopper(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var first, last float64
	for !tr.Done() {
		st, err := tr.Iterate()
		if err != nil {
			t.Fatal(err)
		}
		if st.Iteration == 1 {
			first = st.ReturnMean
		}
		last = st.ReturnMean
	}
	t.Logf("mean episodic return: first iteration %.1f, last %.1f", first, last)
	if !(last > 3*first && last > 100) {
		t.Fatalf("no clear improvement: first %.1f, last %.1f", first, last)
	}
}

// TestEpisodeSnapshots: with Hooks.Snapshots, each flushed trajectory holds
// the simulator state before every step, and restoring the state of step k
// gives back the observation the trainer recorded for step k.
func TestEpisodeSnapshots(t *testing.T) {
	c := small()
	var eps []*traj.Trajectory
	tr, err := New(c, hopper(t), Hooks{OnEpisode: func(e *traj.Trajectory) { eps = append(eps, e) }, Snapshots: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Iterate(); err != nil {
		t.Fatal(err)
	}
	if len(eps) == 0 {
		t.Fatal("no episode flushed")
	}
	v, err := env.New(hopper(t), env.Config{NumEnvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Reset(1); err != nil {
		t.Fatal(err)
	}
	for _, e := range eps {
		if err := e.Validate(hopper(t)); err != nil || len(e.Snapshots) != e.Len() {
			t.Fatalf("episode of %d steps with %d snapshots: %v", e.Len(), len(e.Snapshots), err)
		}
		for _, k := range []int{0, e.Len() / 2, e.Len() - 1} {
			if err := v.Restore(0, e.Snapshots[k]); err != nil {
				t.Fatal(err)
			}
			got, want := v.Obs()[:11], e.ObsAt(k)
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("step %d: restored obs %v, recorded %v", k, got, want)
				}
			}
		}
	}
}

// TestCorruptResetStateIsCountedNotFatal: a stored state that cannot be
// restored (here NaN) leaves the episode at its fresh start, is counted,
// and the run goes on with finite observations.
func TestCorruptResetStateIsCountedNotFatal(t *testing.T) {
	c := small()
	bad := &badResetter{}
	tr, err := New(c, hopper(t), Hooks{Resetter: bad})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	st, err := tr.Iterate()
	if err != nil {
		t.Fatalf("a corrupt stored state stopped the run: %v", err)
	}
	if st.Episodes == 0 || st.FailedResets != st.Episodes || st.Resets != 0 {
		t.Fatalf("%d episodes, %d failed resets, %d resets", st.Episodes, st.FailedResets, st.Resets)
	}
	if bad.failed != st.Episodes || bad.restored != 0 {
		t.Fatalf("the resetter heard of %d failed and %d restored snapshots, want %d and 0", bad.failed, bad.restored, st.Episodes)
	}
	for _, x := range tr.normObs {
		if math.IsNaN(float64(x)) {
			t.Fatal("NaN observation after a refused restore")
		}
	}
}

// TestForgedCheckpointsAreRejected covers issue 14's finding 12: headers
// with valid checksums whose sizes or statistics are impossible. (JSON cannot
// hold NaN or infinities, so those cannot reach the header.)
func TestForgedCheckpointsAreRejected(t *testing.T) {
	spec := hopper(t)
	tr, err := New(small(), spec, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	forge := func(edit func(c *Checkpoint)) []byte {
		ck, err := tr.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		edit(ck)
		var buf bytes.Buffer
		if err := ck.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name string
		edit func(c *Checkpoint)
		want string
	}{
		{"tensor length 2^62", func(c *Checkpoint) { c.Tensors[0].Len = 1 << 62 }, "more than the"},
		{"negative tensor length", func(c *Checkpoint) { c.Tensors[0].Len = -1 }, "claims -1 values"},
		{"negative obs variance", func(c *Checkpoint) { c.ObsRMS.Var[2] = -1 }, "obs_rms: var[2] = -1"},
		{"negative reward variance", func(c *Checkpoint) { c.RewardRMS.Var[0] = -1e-9 }, "reward_rms: var[0]"},
		{"short variance", func(c *Checkpoint) { c.ObsRMS.Var = c.ObsRMS.Var[:3] }, "11 means but 3 variances"},
		{"negative count", func(c *Checkpoint) { c.ObsRMS.Count = -5 }, "count -5"},
		{"duplicate tensor", func(c *Checkpoint) {
			c.Tensors = append(c.Tensors, c.Tensors[0])
			c.data["x"] = nil
		}, "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeCheckpoint(forge(tc.edit)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// A header whose config asks for a network its tensors do not hold is
	// refused before any network is built (this would allocate ~160 GB).
	b := forge(func(c *Checkpoint) { c.Config.Hidden = []int{100000, 100000} })
	ck, err := DecodeCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() error{
		"NewPolicy": func() error { _, err := NewPolicy(ck, spec, true, 1); return err },
		"Resume":    func() error { _, err := Resume(ck, spec, Hooks{}); return err },
		"Continue":  func() error { _, err := Continue(ck, small(), spec, Hooks{}); return err },
	} {
		if err := load(); err == nil || !strings.Contains(err.Error(), "tensors hold") {
			t.Errorf("%s: got %v, want the parameter-count mismatch", name, err)
		}
	}
}

// TestSizesOverTheMemoryLimitAreRefused covers finding 7's network and
// rollout sizes: they are refused with the estimate before allocation.
func TestSizesOverTheMemoryLimitAreRefused(t *testing.T) {
	memlimit.Set(memlimit.Limit{Bytes: 1 << 30, Source: "test"})
	defer memlimit.Reset()
	spec := hopper(t)
	wide := small()
	wide.Hidden = []int{100000, 100000}
	long := small()
	long.NumSteps, long.TotalSteps = 1<<40, 1<<42
	for name, cfg := range map[string]Config{"hidden 100000,100000": wide, "num-steps 2^40": long} {
		_, err := New(cfg, spec, Hooks{})
		if !errors.Is(err, memlimit.ErrExceeded) || !strings.Contains(err.Error(), "1.0 GiB") {
			t.Errorf("%s: got %v, want memlimit.ErrExceeded naming the limit", name, err)
		}
	}
	if tr, err := New(small(), spec, Hooks{}); err != nil {
		t.Fatalf("the small config under 1 GiB: %v", err)
	} else {
		tr.Close()
	}
}

// badResetter proposes a snapshot Restore refuses (NaN) at every episode
// end and counts what the trainer reports back.
type badResetter struct{ failed, restored int }

func (r *badResetter) ResetState(int) []float64 {
	s := make([]float64, 1+6+6+3) // the size does not matter: NaN or wrong-sized, Restore refuses it
	s[3] = math.NaN()
	return s
}

func (r *badResetter) Restored(_ int, ok bool) {
	if ok {
		r.restored++
	} else {
		r.failed++
	}
}

// TestEnvBusyIsReported: an iteration reports its env workers' busy share,
// exactly 1 with one worker (it steps for the whole of every Step), within
// (0, 1] with two.
func TestEnvBusyIsReported(t *testing.T) {
	for _, workers := range []int{1, 2} {
		c := small()
		c.Workers = workers
		tr, err := New(c, hopper(t), Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := tr.Iterate()
		tr.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.EnvBusy <= 0 || st.EnvBusy > 1 || (workers == 1 && st.EnvBusy != 1) {
			t.Errorf("%d workers: env busy %v", workers, st.EnvBusy)
		}
	}
}
