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
	CheckpointFile = "checkpoint.bin"
	MetricsJSONL   = "metrics.jsonl"
	MetricsCSV     = "metrics.csv"
	PolicyFile     = "policy.safetensors"
)

// Start begins a new run in dir: it refuses a directory that already holds
// one, checks that the networks' device can be opened, builds the trainer,
// and only then creates dir and writes the config (clearing metric files a
// failed earlier start may have left).
func Start(dir string, cfg ppo.Config, spec env.Spec, hooks ppo.Hooks) (*ppo.Trainer, error) {
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a run: resume it, or choose another directory", dir)
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
	if err := Create(dir, cfg); err != nil {
		tr.Close()
		return nil, err
	}
	return tr, nil
}

// Create makes dir and writes cfg as its config.yaml, clearing metric files
// left from an earlier attempt.
func Create(dir string, cfg ppo.Config) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, ConfigFile), b); err != nil {
		return err
	}
	for _, f := range []string{MetricsJSONL, MetricsCSV} {
		os.Remove(filepath.Join(dir, f))
	}
	return nil
}

// Resume continues the run in dir from ck (its checkpoint): the device may
// differ from the one the checkpoint was trained on, and the metric rows
// past the checkpoint's iteration are dropped, since those iterations are
// redone.
func Resume(dir string, ck *ppo.Checkpoint, spec env.Spec, hooks ppo.Hooks) (*ppo.Trainer, error) {
	if err := ck.Config.Validate(); err != nil {
		return nil, err
	}
	if err := ppo.CheckDevice(ck.Config.Device, ck.Config.TF32); err != nil {
		return nil, err
	}
	if err := TrimMetrics(dir, ck.Iteration); err != nil {
		return nil, err
	}
	return ppo.Resume(ck, spec, hooks)
}

// LoadCheckpoint reads dir's checkpoint.
func LoadCheckpoint(dir string) (*ppo.Checkpoint, error) {
	return ppo.LoadCheckpoint(filepath.Join(dir, CheckpointFile))
}

// SaveCheckpoint writes the checkpoint and the exported policy into dir.
func SaveCheckpoint(dir string, ck *ppo.Checkpoint) error {
	if err := ck.Save(filepath.Join(dir, CheckpointFile)); err != nil {
		return err
	}
	var buf strings.Builder
	if err := ck.ExportSafetensors(&buf); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, PolicyFile), []byte(buf.String()))
}
