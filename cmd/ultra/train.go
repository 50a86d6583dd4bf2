package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
)

// trainDocs documents each PPO option for --help.
var trainDocs = map[string]string{
	"env": "task id (see 'ultra envs')", "seed": "seed for envs, networks, sampling and shuffling",
	"steps": "env steps to train for, summed over envs", "envs": "parallel env instances",
	"num-steps": "rollout steps per env per iteration", "num-minibatches": "minibatches per epoch",
	"update-epochs": "epochs per iteration", "learning-rate": "Adam learning rate",
	"anneal-lr": "anneal the learning rate linearly to 0", "gamma": "discount factor",
	"gae-lambda": "GAE lambda", "norm-adv": "normalise advantages per minibatch",
	"clip-coef": "surrogate clipping coefficient", "clip-vloss": "clip the value loss",
	"ent-coef": "entropy coefficient", "vf-coef": "value loss coefficient",
	"max-grad-norm": "global gradient-norm clip (0: off)", "target-kl": "early-stop epochs past this approx-KL (0: off)",
	"norm-obs": "normalise observations with running statistics", "clip-obs": "clip normalised observations to ±this",
	"norm-reward": "scale rewards by the discounted-return std", "clip-reward": "clip scaled rewards to ±this",
	"hidden": "hidden layer sizes, e.g. 64,64", "activation": "tanh or relu",
	"backend": "network backend: native (fast, plain Go) or gorgonia (reference)",
	"device":  "cpu, or cuda (needs a binary built with -tags ultracuda: make build-cuda)", "workers": "env worker goroutines (0: automatic)",
	"tf32": "with --device cuda: TF32 tensor cores for matrix products (faster, 10-bit mantissas)",
}

// Files in a run directory.
const (
	ckptFile    = "checkpoint.bin"
	configFile  = "config.yaml"
	jsonlFile   = "metrics.jsonl"
	csvFile     = "metrics.csv"
	exportFile  = "policy.safetensors"
	resumeFlags = "steps out resume checkpoint-every log-format progress metrics-addr shutdown-timeout device tf32"
)

func cmdTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", stderr)
	cfg := ppo.Defaults()
	cf := newConfigFlags(fs, &cfg, trainDocs)
	configPath := fs.String("config", "", "YAML file of options (keys are the flag names); flags override it")
	out := fs.String("out", "", "run directory for checkpoints, metrics and the exported policy (required)")
	resume := fs.Bool("resume", false, "continue the run in --out from its last checkpoint")
	every := fs.Int("checkpoint-every", 10, "write a checkpoint every N iterations (and always at the end), ≥ 1")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	progress := fs.String("progress", "auto", "progress display: bar, log or auto (bar on a terminal)")
	metricsAddr := fs.String("metrics-addr", defaultMetricsAddr(), metricsAddrDoc)
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long to let the running iteration finish before abandoning it for the previous checkpoint")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("train: --out DIR is required")
	}
	if *every < 1 {
		return fmt.Errorf("train: --checkpoint-every must be ≥ 1, got %d", *every)
	}
	logger, err := newLogger(*logFormat, stderr)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var tr *ppo.Trainer
	var hooks ppo.Hooks
	var met *metrics.Metrics
	stopMetrics := func() {}
	// startMetrics runs once the config (and so the env) is known.
	startMetrics := func() error {
		reg, stop, err := serveMetrics(*metricsAddr, logger)
		if err != nil {
			return err
		}
		stopMetrics = stop
		if met, err = runMetrics(reg, metrics.Labels{Run: filepath.Base(*out), Env: cfg.Env, Variant: "train"}); err != nil {
			return err
		}
		if met != nil {
			hooks.EpisodeEnd = met.Episode
		}
		return nil
	}
	if *resume {
		tr, err = resumeRun(fs, *out, &cfg, cf, logger, startMetrics, &hooks)
	} else {
		tr, err = startRun(*out, &cfg, cf, *configPath, startMetrics, &hooks)
	}
	defer func() { stopMetrics() }()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer tr.Close()

	err = trainLoop(tr, loopOptions{out: *out, every: *every, progress: *progress, logger: logger, stdout: stdout, stderr: stderr,
		shutdown: *shutdown, met: met})
	if errors.Is(err, errInterrupted) {
		logger.Info("continue the run with: ultra train --out " + *out + " --resume")
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

func startRun(out string, cfg *ppo.Config, cf *configFlags, configPath string, startMetrics func() error, hooks *ppo.Hooks) (*ppo.Trainer, error) {
	if _, err := os.Stat(filepath.Join(out, ckptFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a run: pass --resume to continue it, or choose another --out", out)
	}
	if err := cf.apply(configPath); err != nil { // learn the env
		return nil, err
	}
	spec, err := registry().Lookup(cfg.Env)
	if err != nil {
		return nil, err
	}
	*cfg = ppo.DefaultsFor(spec) // the env's defaults, then the file and flags again on top
	if err := cf.apply(configPath); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ppo.CheckDevice(cfg.Device, cfg.TF32); err != nil {
		return nil, err
	}
	if err := startMetrics(); err != nil {
		return nil, err
	}
	// The run directory is written only once the trainer stands, so a run
	// that cannot start leaves nothing behind.
	tr, err := ppo.New(*cfg, spec, *hooks)
	if err != nil {
		return nil, err
	}
	b, _ := yaml.Marshal(cfg)
	if err := errors.Join(os.MkdirAll(out, 0o755), ppo.WriteFileAtomic(filepath.Join(out, configFile), b)); err != nil {
		tr.Close()
		return nil, err
	}
	for _, f := range []string{jsonlFile, csvFile} {
		os.Remove(filepath.Join(out, f))
	}
	return tr, nil
}

func resumeRun(fs *flag.FlagSet, out string, cfg *ppo.Config, cf *configFlags, logger *slog.Logger, startMetrics func() error, hooks *ppo.Hooks) (*ppo.Trainer, error) {
	ck, err := ppo.LoadCheckpoint(filepath.Join(out, ckptFile))
	if err != nil {
		return nil, err
	}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		if !strings.Contains(" "+resumeFlags+" ", " "+f.Name+" ") {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return nil, fmt.Errorf("--resume continues the saved configuration; %s cannot change (only --steps can extend the run)", strings.Join(bad, ", "))
	}
	*cfg = ck.Config
	if err := cf.apply(""); err != nil { // picks up an explicit --steps
		return nil, err
	}
	if cfg.TotalSteps != ck.Config.TotalSteps {
		logger.Warn("--steps changed on resume: the learning-rate schedule is stretched to the new total", "was", ck.Config.TotalSteps, "now", cfg.TotalSteps)
		ck.Config.TotalSteps = cfg.TotalSteps
		if err := ck.Config.Validate(); err != nil {
			return nil, err
		}
	}
	spec, err := registry().Lookup(cfg.Env)
	if err != nil {
		return nil, err
	}
	// --device (and --tf32) may change on resume: they choose where the
	// maths runs, not what it computes.
	ck.Config.Device, ck.Config.TF32 = cfg.Device, cfg.TF32
	if err := ck.Config.Validate(); err != nil {
		return nil, err
	}
	if err := ppo.CheckDevice(cfg.Device, cfg.TF32); err != nil {
		return nil, err
	}
	if err := trimMetrics(out, ck.Iteration); err != nil {
		return nil, err
	}
	if err := startMetrics(); err != nil {
		return nil, err
	}
	return ppo.Resume(ck, spec, *hooks)
}

// saveCheckpoint writes the checkpoint and the exported policy.
func saveCheckpoint(ck *ppo.Checkpoint, out string) error {
	if err := ck.Save(filepath.Join(out, ckptFile)); err != nil {
		return err
	}
	var buf strings.Builder
	if err := ck.ExportSafetensors(&buf); err != nil {
		return err
	}
	return ppo.WriteFileAtomic(filepath.Join(out, exportFile), []byte(buf.String()))
}

// metricsWriter appends one row per iteration to metrics.jsonl and metrics.csv.
type metricsWriter struct {
	jsonl, csvf *os.File
	csv         *csv.Writer
}

var csvColumns = []string{"iteration", "global_step", "sps", "episodic_return", "episodic_length", "episodes", "return_last10",
	"policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "explained_variance", "grad_norm",
	"learning_rate", "epochs", "modulated_actions", "bonus_steps", "physics_resets", "rollout_seconds", "update_seconds"}

func openMetrics(out string) (*metricsWriter, error) {
	j, err := os.OpenFile(filepath.Join(out, jsonlFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cpath := filepath.Join(out, csvFile)
	_, statErr := os.Stat(cpath)
	c, err := os.OpenFile(cpath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		j.Close()
		return nil, err
	}
	m := &metricsWriter{jsonl: j, csvf: c, csv: csv.NewWriter(c)}
	if statErr != nil {
		m.csv.Write(csvColumns)
		m.csv.Flush()
	}
	return m, m.csv.Error()
}

func (m *metricsWriter) write(st ppo.IterStats) error {
	row := map[string]any{}
	b, _ := json.Marshal(jsonSafe(st))
	json.Unmarshal(b, &row)
	if _, err := m.jsonl.Write(append(b, '\n')); err != nil {
		return err
	}
	rec := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		if v, ok := row[c]; ok && v != nil {
			rec[i] = fmt.Sprint(v)
		}
	}
	m.csv.Write(rec)
	m.csv.Flush()
	return m.csv.Error()
}

func (m *metricsWriter) Close() error { return errors.Join(m.jsonl.Close(), m.csvf.Close()) }

// jsonSafe maps NaN (no episode finished) to null, which JSON can carry.
func jsonSafe(st ppo.IterStats) map[string]any {
	b, _ := json.Marshal(struct {
		ppo.IterStats
		ReturnMean *float64 `json:"episodic_return"`
		LengthMean *float64 `json:"episodic_length"`
		Explained  *float64 `json:"explained_variance"`
		Return10   *float64 `json:"return_last10"`
	}{IterStats: withoutNaN(st), ReturnMean: nanToNil(st.ReturnMean), LengthMean: nanToNil(st.LengthMean),
		Explained: nanToNil(st.ExplainedVar), Return10: nanToNil(st.Return10)})
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func withoutNaN(st ppo.IterStats) ppo.IterStats {
	st.ReturnMean, st.LengthMean, st.ExplainedVar, st.Return10 = 0, 0, 0, 0
	return st
}

func nanToNil(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// trimMetrics drops metric rows past the checkpoint's iteration: after a
// crash, the iterations since the checkpoint are redone.
func trimMetrics(out string, iteration int) error {
	for _, name := range []string{jsonlFile, csvFile} {
		path := filepath.Join(out, name)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		var keep []string
		for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if line == "" {
				continue
			}
			it := -1
			if name == jsonlFile {
				var r struct{ Iteration int }
				if json.Unmarshal([]byte(line), &r) == nil {
					it = r.Iteration
				}
			} else if i > 0 {
				it, _ = strconv.Atoi(strings.SplitN(line, ",", 2)[0])
			}
			if it <= iteration {
				keep = append(keep, line)
			}
		}
		data := strings.Join(keep, "\n")
		if len(keep) > 0 {
			data += "\n"
		}
		if err := ppo.WriteFileAtomic(path, []byte(data)); err != nil {
			return err
		}
	}
	return nil
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// drawBar redraws one progress line: steps, SPS, ETA, last mean return.
func drawBar(w io.Writer, step, total, startStep int64, start time.Time, lastReturn float64) {
	frac := float64(step) / float64(total)
	const width = 30
	filled := int(frac * width)
	sps := float64(step-startStep) / time.Since(start).Seconds()
	eta := time.Duration(float64(total-step)/math.Max(sps, 1e-9)) * time.Second
	fmt.Fprintf(w, "\r[%s%s] %5.1f%% %d/%d steps | %6.0f SPS | ETA %s | return %8.2f ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*frac, step, total, sps,
		eta.Round(time.Second), lastReturn)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
