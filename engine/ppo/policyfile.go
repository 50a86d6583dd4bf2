package ppo

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// LoadPolicy reads what acting needs from a checkpoint file, a run
// directory (its CheckpointFile) or an exported policy (a safetensors file
// written by ExportSafetensors). The result drives NewPolicy; one read from
// safetensors holds the networks and the observation normaliser only, so it
// cannot resume or refine a run (LoadCheckpoint is for those).
func LoadPolicy(path string) (*Checkpoint, error) {
	p := path
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, CheckpointFile)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	if !isSafetensors(b) {
		c, err := DecodeCheckpoint(b)
		if err != nil {
			return nil, fmt.Errorf("load checkpoint %s: %w", p, err)
		}
		return c, nil
	}
	c, err := decodePolicySafetensors(b)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", p, err)
	}
	return c, nil
}

// safetensorsEntry is one tensor's entry in a safetensors header.
type safetensorsEntry struct {
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// decodePolicySafetensors rebuilds a policy-only checkpoint from an
// exported policy: its metadata gives the config (env, hidden sizes,
// activation, observation normalisation and clipping), its tensors the
// networks and the normaliser (float64, or float32 from older exports).
func decodePolicySafetensors(b []byte) (*Checkpoint, error) {
	n := binary.LittleEndian.Uint64(b)
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		return nil, fmt.Errorf("safetensors header: %w", err)
	}
	var meta map[string]string
	if raw, ok := header["__metadata__"]; !ok || json.Unmarshal(raw, &meta) != nil || meta["format"] != "ultra-ppo-v1" {
		return nil, fmt.Errorf("not an ultra policy (metadata format %q, want ultra-ppo-v1: written by ultra train or ultra export)", meta["format"])
	}
	if im := meta["image"]; im != "" {
		return nil, fmt.Errorf("a CNN policy (image %s): acting from its safetensors is not supported; give the run's %s", im, CheckpointFile)
	}
	cfg := Defaults()
	cfg.Env, cfg.Activation = meta["env"], meta["activation"]
	cfg.NormObs = meta["norm_obs"] == "true"
	clip, err := strconv.ParseFloat(meta["obs_clip"], 64)
	if err != nil {
		return nil, fmt.Errorf("metadata obs_clip %q: %w", meta["obs_clip"], err)
	}
	cfg.ClipObs = clip
	cfg.Hidden = nil
	for _, h := range strings.Split(meta["hidden"], ",") {
		v, err := strconv.Atoi(h)
		if err != nil {
			return nil, fmt.Errorf("metadata hidden %q: %w", meta["hidden"], err)
		}
		cfg.Hidden = append(cfg.Hidden, v)
	}
	data := b[8+n:]
	c := &Checkpoint{Version: ckptVersion, Config: cfg, data: map[string][]float32{}}
	c.GlobalStep, _ = strconv.ParseInt(meta["global_step"], 10, 64)
	names := make([]string, 0, len(header))
	for name := range header {
		if name != "__metadata__" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		var e safetensorsEntry
		if err := json.Unmarshal(header[name], &e); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		size := map[string]int{"F32": 4, "F64": 8}[e.DType]
		count := 1
		for _, d := range e.Shape {
			if d < 0 || d > len(data) {
				count = -1
				break
			}
			count *= d
			if count > len(data) {
				count = -1
				break
			}
		}
		lo, hi := e.Offsets[0], e.Offsets[1]
		if size == 0 || count < 0 || lo < 0 || hi < lo || hi > len(data) || hi-lo != size*count {
			return nil, fmt.Errorf("tensor %s: dtype %s, shape %v, bytes [%d, %d) of %d: damaged or not ultra's", name, e.DType, e.Shape, lo, hi, len(data))
		}
		// at reads value i as float64 (exact for F32).
		at := func(i int) float64 {
			if size == 8 {
				return math.Float64frombits(binary.LittleEndian.Uint64(data[lo+8*i:]))
			}
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(data[lo+4*i:])))
		}
		switch name {
		case "obs_rms.mean", "obs_rms.var":
			vals := make([]float64, count)
			for i := range vals {
				vals[i] = at(i)
			}
			if name == "obs_rms.mean" {
				c.ObsRMS.Mean = vals
			} else {
				c.ObsRMS.Var = vals
			}
		default:
			f := make([]float32, count)
			for i := range f {
				f[i] = float32(at(i))
			}
			c.data[name] = f
			c.Tensors = append(c.Tensors, TensorInfo{Name: name, Shape: e.Shape, Len: count})
		}
	}
	if len(c.ObsRMS.Mean) == 0 || len(c.ObsRMS.Mean) != len(c.ObsRMS.Var) {
		return nil, fmt.Errorf("no observation normaliser (obs_rms.mean and obs_rms.var of one length)")
	}
	c.ObsRMS.Count = 1
	return c, nil
}
