package ppo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/nn"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// Checkpoint file format, version 1 (all integers little-endian):
//
//	magic "ULTRACKP" | uint32 version | uint64 n | n bytes of JSON header |
//	float32 tensor data in header order | 32-byte SHA-256 of everything before it
//
// The header holds the config, counters, normaliser statistics, RNG and env
// state; the tensors are the network parameters and Adam's moments.
const (
	ckptMagic   = "ULTRACKP"
	ckptVersion = 1
)

// TensorInfo locates one tensor in a checkpoint's data section.
type TensorInfo struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Len   int    `json:"len"` // float32 values
}

// RMSState is a serialised RunningMeanStd.
type RMSState struct {
	Mean  []float64 `json:"mean"`
	Var   []float64 `json:"var"`
	Count float64   `json:"count"`
}

// Checkpoint is everything needed to continue a run exactly, or to use its
// policy.
type Checkpoint struct {
	Version       int          `json:"version"`
	Config        Config       `json:"config"`
	Net           nn.Spec      `json:"net"`
	Iteration     int          `json:"iteration"`
	GlobalStep    int64        `json:"global_step"`
	ObsRMS        RMSState     `json:"obs_rms"`
	RewardRMS     RMSState     `json:"reward_rms"`
	RewardReturns []float64    `json:"reward_returns"`
	RNG           []byte       `json:"rng"`
	EnvState      []byte       `json:"env_state"`
	AdamT         int          `json:"adam_t"`
	Last10        []float64    `json:"last10_returns"`
	Tensors       []TensorInfo `json:"tensors"`
	// Extension is the state of what the run adds to PPO (ULTRA's
	// machinery: its random streams, counters and models), opaque to this
	// package, taken at the same iteration boundary as the rest so that a
	// resumed run continues it exactly. The run loop fills it (see
	// run.Stateful); the trainer neither writes nor reads it. Empty in
	// plain PPO runs and in checkpoints written before it existed.
	Extension []byte `json:"extension,omitempty"`

	data map[string][]float32
}

// Tensor returns a tensor's values by name ("policy.0.weight",
// "adam.m/policy.0.weight", …), or nil.
func (c *Checkpoint) Tensor(name string) []float32 { return c.data[name] }

func rmsState(r *RunningMeanStd) RMSState {
	return RMSState{Mean: append([]float64(nil), r.Mean...), Var: append([]float64(nil), r.Var...), Count: r.Count}
}

// check refuses statistics no normaliser can have: non-finite values, a
// negative variance or count, or mean and variance of different lengths.
func (s RMSState) check(name string) error {
	if len(s.Mean) != len(s.Var) {
		return fmt.Errorf("checkpoint %s: %d means but %d variances", name, len(s.Mean), len(s.Var))
	}
	if !(s.Count >= 0) || math.IsInf(s.Count, 0) {
		return fmt.Errorf("checkpoint %s: count %v, want a finite value ≥ 0", name, s.Count)
	}
	for i := range s.Mean {
		if math.IsNaN(s.Mean[i]) || math.IsInf(s.Mean[i], 0) {
			return fmt.Errorf("checkpoint %s: mean[%d] = %v, want a finite value", name, i, s.Mean[i])
		}
		if !(s.Var[i] >= 0) || math.IsInf(s.Var[i], 0) {
			return fmt.Errorf("checkpoint %s: var[%d] = %v, want a finite value ≥ 0", name, i, s.Var[i])
		}
	}
	return nil
}

func (s RMSState) restore(r *RunningMeanStd) error {
	if len(s.Mean) != len(r.Mean) || len(s.Var) != len(r.Var) {
		return fmt.Errorf("normaliser has %d values, want %d", len(s.Mean), len(r.Mean))
	}
	copy(r.Mean, s.Mean)
	copy(r.Var, s.Var)
	r.Count = s.Count
	return nil
}

// Checkpoint captures the trainer's state at an iteration boundary.
func (t *Trainer) Checkpoint() (*Checkpoint, error) {
	c, err := t.checkpointHost()
	if err != nil {
		return nil, err
	}
	m, v, step := t.net.AdamState()
	c.setNet(t.net.Params(), m, v, step)
	return c, nil
}

// checkpointHost captures everything but the networks.
func (t *Trainer) checkpointHost() (*Checkpoint, error) {
	rng, err := t.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("ppo: checkpoint RNG: %w", err)
	}
	es, err := t.env.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("ppo: checkpoint env: %w", err)
	}
	return &Checkpoint{
		Version: ckptVersion, Config: t.cfg, Net: t.net.Spec(), Iteration: t.iteration, GlobalStep: t.globalStep,
		ObsRMS: rmsState(t.obsRMS), RewardRMS: rmsState(t.rew.RMS),
		RewardReturns: append([]float64(nil), t.rew.Returns...), RNG: rng, EnvState: es,
		Last10: append([]float64(nil), t.last10...),
		data:   map[string][]float32{},
	}, nil
}

// setNet copies the networks' parameters, Adam's moments and step count
// into c.
func (c *Checkpoint) setNet(params, m, v []nn.Param, step int) {
	add := func(prefix string, ps []nn.Param) {
		for _, p := range ps {
			name := prefix + p.Name
			c.Tensors = append(c.Tensors, TensorInfo{Name: name, Shape: p.Shape, Len: len(p.Data)})
			c.data[name] = append([]float32(nil), p.Data...)
		}
	}
	c.AdamT = step
	add("", params)
	add("adam.m/", m)
	add("adam.v/", v)
}

// LazyCheckpoint is a checkpoint taken now and read back only if it is
// needed (Trainer.CheckpointLazy).
type LazyCheckpoint struct {
	t   *Trainer
	c   *Checkpoint
	gen int // the trainer's snapshot that holds the networks; 0: c is complete
}

// CheckpointLazy captures the trainer's state at an iteration boundary,
// like Checkpoint, for a caller that will most likely not need it (run.Loop
// keeps one before each iteration, for a stop that outlasts the shutdown
// timeout). With a backend that keeps its state on a device
// (nn.Snapshotter: the CUDA backend) the networks' state is set aside
// there, and only LazyCheckpoint.Checkpoint reads it back; with the host
// backends it is Checkpoint. Each CheckpointLazy replaces the networks'
// state set aside by the previous one.
func (t *Trainer) CheckpointLazy() (*LazyCheckpoint, error) {
	s, ok := t.net.(nn.Snapshotter)
	if !ok {
		c, err := t.Checkpoint()
		if err != nil {
			return nil, err
		}
		return &LazyCheckpoint{c: c}, nil
	}
	c, err := t.checkpointHost()
	if err != nil {
		return nil, err
	}
	if err := s.Snapshot(); err != nil {
		return nil, fmt.Errorf("ppo: checkpoint: %w", err)
	}
	t.snapGen++
	return &LazyCheckpoint{t: t, c: c, gen: t.snapGen}, nil
}

// Checkpoint returns the checkpoint, reading the networks' state back from
// the device where CheckpointLazy left it. It fails once a later
// CheckpointLazy of the same trainer has replaced that state.
func (l *LazyCheckpoint) Checkpoint() (*Checkpoint, error) {
	if l.gen == 0 {
		return l.c, nil
	}
	if l.gen != l.t.snapGen {
		return nil, errors.New("ppo: a later CheckpointLazy replaced this checkpoint's network state; read a lazy checkpoint before taking the next")
	}
	params, m, v, step, err := l.t.net.(nn.Snapshotter).Snapshotted()
	if err != nil {
		return nil, fmt.Errorf("ppo: checkpoint: %w", err)
	}
	l.c.setNet(params, m, v, step)
	l.gen = 0
	return l.c, nil
}

// Encode writes the checkpoint in the versioned binary format.
func (c *Checkpoint) Encode(w io.Writer) error {
	hdr, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("ppo: encode checkpoint header: %w", err)
	}
	b := []byte(ckptMagic)
	b = binary.LittleEndian.AppendUint32(b, ckptVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(hdr)))
	b = append(b, hdr...)
	for _, ti := range c.Tensors {
		for _, f := range c.data[ti.Name] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	sum := sha256.Sum256(b)
	_, err = w.Write(append(b, sum[:]...))
	return err
}

// DecodeCheckpoint parses and verifies a checkpoint. Truncated or corrupted
// files fail the checksum with an error that says so.
func DecodeCheckpoint(b []byte) (*Checkpoint, error) {
	const fixed = len(ckptMagic) + 4 + 8
	if len(b) < fixed+sha256.Size {
		return nil, fmt.Errorf("checkpoint is %d bytes, too short to be one (truncated?)", len(b))
	}
	if string(b[:len(ckptMagic)]) != ckptMagic {
		return nil, errors.New("not an ultra checkpoint (bad magic)")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("checkpoint checksum mismatch: the file is truncated or corrupted")
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != ckptVersion {
		return nil, fmt.Errorf("checkpoint format version %d, this build reads version %d", v, ckptVersion)
	}
	n := binary.LittleEndian.Uint64(b[12:20])
	if n > uint64(len(body)-fixed) {
		return nil, errors.New("checkpoint header length exceeds the file")
	}
	// Fields a newer build added are missing from older headers: they keep
	// their defaults.
	c := &Checkpoint{Config: Defaults(), data: map[string][]float32{}}
	if err := json.Unmarshal(body[fixed:fixed+int(n)], c); err != nil {
		return nil, fmt.Errorf("checkpoint header: %w", err)
	}
	if err := c.ObsRMS.check("obs_rms"); err != nil {
		return nil, err
	}
	if err := c.RewardRMS.check("reward_rms"); err != nil {
		return nil, err
	}
	data := body[fixed+int(n):]
	for _, ti := range c.Tensors {
		// Compare by division: a forged length near 2^62 would overflow
		// ti.Len*4 and pass.
		if ti.Len < 0 || ti.Len > len(data)/4 {
			return nil, fmt.Errorf("checkpoint tensor %s claims %d values, more than the %d bytes left in the file hold", ti.Name, ti.Len, len(data))
		}
		if _, dup := c.data[ti.Name]; dup {
			return nil, fmt.Errorf("checkpoint tensor %s appears twice", ti.Name)
		}
		f := make([]float32, ti.Len)
		for i := range f {
			f[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		c.data[ti.Name] = f
		data = data[4*ti.Len:]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("checkpoint has %d unexplained trailing bytes", len(data))
	}
	return c, nil
}

// CheckpointFile is the name of a run directory's latest checkpoint.
const CheckpointFile = "checkpoint.bin"

// LoadCheckpoint reads and verifies a checkpoint file. A run directory
// stands for its CheckpointFile; an exported policy (safetensors) is an
// error that names the checkpoint to give instead.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, CheckpointFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	c, err := DecodeCheckpoint(b)
	if err != nil && isSafetensors(b) {
		return nil, fmt.Errorf("load checkpoint %s: it is an exported policy (safetensors: weights and normaliser only), not a checkpoint: give the run's %s, or its directory (%s)",
			path, CheckpointFile, filepath.Join(filepath.Dir(path), CheckpointFile))
	}
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return c, nil
}

// isSafetensors reports whether b starts as a safetensors file does: a
// little-endian uint64 header length that fits the file, then a JSON
// object.
func isSafetensors(b []byte) bool {
	if len(b) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(b)
	return n >= 2 && n <= uint64(len(b)-8) && b[8] == '{'
}

// Save writes the checkpoint to path atomically: a temporary file in the
// same directory is written, fsynced and renamed over path, and the
// directory is fsynced. A crash or a full disk leaves the old file intact.
func (c *Checkpoint) Save(path string) error {
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}

// checkFor checks, before any network is built, that the checkpoint can
// drive spec: the task matches, the config is valid, and the network its
// config describes has exactly the parameters its tensors hold, so that a
// damaged or forged header (hidden [100000, 100000] in a small file) is an
// error rather than a huge allocation.
func (c *Checkpoint) checkFor(spec env.Spec) error {
	if spec.ID != c.Config.Env {
		return fmt.Errorf("ppo: checkpoint was trained on %q, not %q", c.Config.Env, spec.ID)
	}
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("ppo: checkpoint: %w", err)
	}
	var held int64
	for _, ti := range c.Tensors {
		if !strings.HasPrefix(ti.Name, "adam.") {
			held += int64(ti.Len)
		}
	}
	if want := netSpec(c.Config, spec).NumParams(); want != held {
		return fmt.Errorf("ppo: checkpoint: its config describes a network of %d parameters (hidden %v on %s) but its tensors hold %d: the header is damaged or from another build", want, c.Config.Hidden, spec.ID, held)
	}
	return nil
}

// Resume builds a trainer that continues exactly where the checkpoint's run
// stopped. spec must be the task the run trained on. In-flight episodes are
// continued by the env, but the OnEpisode hook sees only their remainder.
func Resume(ck *Checkpoint, spec env.Spec, hooks Hooks) (*Trainer, error) {
	if err := ck.checkFor(spec); err != nil {
		return nil, err
	}
	t, err := New(ck.Config, spec, hooks)
	if err != nil {
		return nil, err
	}
	if err := t.restore(ck); err != nil {
		t.Close()
		return nil, fmt.Errorf("ppo: resume: %w", err)
	}
	return t, nil
}

// Continue builds a new run that starts from a checkpoint's policy: its
// weights, Adam moments and normaliser statistics carry over; cfg (seed,
// step budget, envs) and the counters, RNG and env states are new. Every
// refinement variant starts this way, so they differ only in their hooks.
func Continue(ck *Checkpoint, cfg Config, spec env.Spec, hooks Hooks) (*Trainer, error) {
	if err := ck.checkFor(spec); err != nil {
		return nil, err
	}
	cfg.Env, cfg.Hidden, cfg.Activation = ck.Config.Env, ck.Config.Hidden, ck.Config.Activation
	t, err := New(cfg, spec, hooks)
	if err != nil {
		return nil, err
	}
	if err := t.loadPolicy(ck); err != nil {
		t.Close()
		return nil, fmt.Errorf("ppo: continue from checkpoint: %w", err)
	}
	return t, nil
}

// loadPolicy restores weights, optimizer moments and normalisers.
func (t *Trainer) loadPolicy(ck *Checkpoint) error {
	if err := loadParams(t.net, ck, ""); err != nil {
		return err
	}
	var m, v [][]float32
	for _, p := range t.net.Params() {
		m = append(m, ck.Tensor("adam.m/"+p.Name))
		v = append(v, ck.Tensor("adam.v/"+p.Name))
	}
	if err := t.net.SetAdamState(m, v, ck.AdamT); err != nil {
		return err
	}
	if err := ck.ObsRMS.restore(t.obsRMS); err != nil {
		return fmt.Errorf("observation normaliser: %w", err)
	}
	if err := ck.RewardRMS.restore(t.rew.RMS); err != nil {
		return fmt.Errorf("reward normaliser: %w", err)
	}
	t.observe(t.env.Obs())
	return nil
}

func loadParams(net nn.Backend, ck *Checkpoint, prefix string) error {
	for _, p := range net.Params() {
		src := ck.Tensor(prefix + p.Name)
		if len(src) != len(p.Data) {
			return fmt.Errorf("ppo: checkpoint tensor %s has %d values, the network needs %d (different architecture?)", prefix+p.Name, len(src), len(p.Data))
		}
		copy(p.Data, src)
	}
	return nil
}

func (t *Trainer) restore(ck *Checkpoint) error {
	if err := t.loadPolicy(ck); err != nil {
		return err
	}
	if len(ck.RewardReturns) != len(t.rew.Returns) {
		return fmt.Errorf("reward returns for %d envs, want %d", len(ck.RewardReturns), len(t.rew.Returns))
	}
	copy(t.rew.Returns, ck.RewardReturns)
	if err := t.pcg.UnmarshalBinary(ck.RNG); err != nil {
		return fmt.Errorf("rng: %w", err)
	}
	if err := t.env.UnmarshalBinary(ck.EnvState); err != nil {
		return err
	}
	t.iteration, t.globalStep = ck.Iteration, ck.GlobalStep
	t.last10 = append([]float64(nil), ck.Last10...)
	t.observe(t.env.Obs())
	return nil
}
