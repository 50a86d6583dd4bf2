// Package run owns one training run's directory and lifecycle: starting a
// run (its config written only once the trainer stands, so a run that
// cannot start leaves nothing behind), resuming one from its checkpoint
// (metric rows past the checkpoint trimmed), the training loop with its
// periodic and shutdown checkpoints, and the files it writes:
//
//	config.yaml          the effective configuration
//	metrics.jsonl, .csv  one row per iteration
//	checkpoint.bin       the latest checkpoint (atomic, checksummed)
//	policy.safetensors   the policy for use outside Go
//
// `ultra train`, `ultra refine` and the experiment's stages all run
// through it.
package run

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// Files in a run directory.
const (
	ConfigFile     = "config.yaml"
	CheckpointFile = ppo.CheckpointFile
	PrevCheckpoint = "checkpoint.prev.bin" // the checkpoint before the latest
	MetricsJSONL   = "metrics.jsonl"
	MetricsCSV     = "metrics.csv"
	PolicyFile     = "policy.safetensors"
	RefineFile     = "refine.json" // marks a refinement run, with what resuming it needs
)

// Run is a started or resumed run: its trainer and the lock on its
// directory, both released by Close.
type Run struct {
	Trainer *ppo.Trainer
	Dir     string
	lock    *Lock
}

// Adopt makes a Run of a trainer built elsewhere (ppo.Continue) for the
// directory lock holds.
func Adopt(dir string, tr *ppo.Trainer, lock *Lock) *Run {
	return &Run{Trainer: tr, Dir: dir, lock: lock}
}

// Close releases the trainer and the directory.
func (r *Run) Close() error {
	return errors.Join(r.Trainer.Close(), r.lock.Release())
}

// Start begins a new run in dir: it refuses a directory that already holds
// one, checks that the networks' device can be opened, builds the trainer,
// and only then creates dir and writes the config (clearing metric files a
// failed earlier start may have left).
func Start(dir string, cfg ppo.Config, spec env.Spec, hooks ppo.Hooks) (*Run, error) {
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err == nil {
		return nil, HoldsRunError(dir)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ppo.CheckDevice(cfg.Device, cfg.TF32); err != nil {
		return nil, err
	}
	tr, err := ppo.New(cfg, spec, hooks)
	if err != nil {
		return nil, err
	}
	lock, err := Create(dir, cfg)
	if err != nil {
		tr.Close()
		return nil, err
	}
	return &Run{Trainer: tr, Dir: dir, lock: lock}, nil
}

// HoldsRunError is the one wording of "this directory already holds a
// run", for every command that starts one.
func HoldsRunError(dir string) error {
	return fmt.Errorf("%s already holds a run: pass --resume to continue it, or choose another --out", dir)
}

// Create makes dir, takes its lock, and writes cfg as its config.yaml,
// clearing metric files left from an earlier attempt.
func Create(dir string, cfg ppo.Config) (*Lock, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := Acquire(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err == nil {
		lock.Release()
		return nil, HoldsRunError(dir)
	}
	if err := atomicfile.Write(filepath.Join(dir, ConfigFile), b); err != nil {
		lock.Release()
		return nil, err
	}
	for _, f := range []string{MetricsJSONL, MetricsCSV, RefineFile} {
		os.Remove(filepath.Join(dir, f))
	}
	return lock, nil
}

// Resume continues the run in dir from ck (its checkpoint): the device may
// differ from the one the checkpoint was trained on, the steps may grow
// (see ppo.Checkpoint.Extend), config.yaml is rewritten to ck's config, and the metric rows
// past the checkpoint's iteration are dropped, since those iterations are
// redone.
func Resume(dir string, ck *ppo.Checkpoint, spec env.Spec, hooks ppo.Hooks) (*Run, error) {
	if _, err := os.Stat(filepath.Join(dir, RefineFile)); err == nil {
		return nil, fmt.Errorf("%s is a refinement run: continue it with ultra refine --out %s --resume, so that its ULTRA variant keeps acting", dir, dir)
	}
	return ResumeWith(dir, ck, spec, hooks, func(ck *ppo.Checkpoint, spec env.Spec, hooks ppo.Hooks) (*ppo.Trainer, error) {
		return ppo.Resume(ck, spec, hooks)
	})
}

// ResumeWith is Resume with the trainer built by resume (refinements
// rebuild their hooks first).
func ResumeWith(dir string, ck *ppo.Checkpoint, spec env.Spec, hooks ppo.Hooks,
	resume func(*ppo.Checkpoint, env.Spec, ppo.Hooks) (*ppo.Trainer, error)) (*Run, error) {
	if err := ck.Config.Validate(); err != nil {
		return nil, err
	}
	if err := ppo.CheckDevice(ck.Config.Device, ck.Config.TF32); err != nil {
		return nil, err
	}
	lock, err := Acquire(dir)
	if err != nil {
		return nil, err
	}
	if err := TrimMetrics(dir, ck.Iteration); err != nil {
		lock.Release()
		return nil, err
	}
	// config.yaml is the effective configuration: a resume may have
	// changed the steps (an extension) or the device.
	if b, err := yaml.Marshal(ck.Config); err != nil {
		lock.Release()
		return nil, err
	} else if err := atomicfile.Write(filepath.Join(dir, ConfigFile), b); err != nil {
		lock.Release()
		return nil, err
	}
	tr, err := resume(ck, spec, hooks)
	if err != nil {
		lock.Release()
		return nil, err
	}
	return &Run{Trainer: tr, Dir: dir, lock: lock}, nil
}

// LoadCheckpoint reads dir's checkpoint. A damaged one is an error that
// names the previous checkpoint kept beside it, when there is one.
func LoadCheckpoint(dir string) (*ppo.Checkpoint, error) {
	ck, err := ppo.LoadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		prev := filepath.Join(dir, PrevCheckpoint)
		if _, serr := os.Stat(prev); serr == nil {
			return nil, fmt.Errorf("%w; the previous checkpoint is %s: move it to %s to resume from there", err, prev, CheckpointFile)
		}
	}
	return ck, err
}

// SaveCheckpoint writes the checkpoint and the exported policy (with the
// env's action space, see ppo.Checkpoint.ExportSafetensors) into dir,
// keeping the checkpoint it replaces as checkpoint.prev.bin.
func SaveCheckpoint(dir string, ck *ppo.Checkpoint, action env.Space) error {
	path, prev := filepath.Join(dir, CheckpointFile), filepath.Join(dir, PrevCheckpoint)
	if _, err := os.Stat(path); err == nil {
		// A hard link keeps checkpoint.bin in place until the atomic
		// replace below, so a crash never leaves the run without one.
		os.Remove(prev)
		if err := os.Link(path, prev); err != nil {
			return fmt.Errorf("keep the previous checkpoint: %w", err)
		}
	}
	if err := ck.Save(path); err != nil {
		return err
	}
	var buf strings.Builder
	if err := ck.ExportSafetensors(&buf, action); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, PolicyFile), []byte(buf.String()))
}
