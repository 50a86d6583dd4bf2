package run

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/internal/atomicfile"
	"github.com/ultra-rl/ultra/internal/tfevents"
)

// metricsWriter appends one row per iteration to metrics.jsonl and
// metrics.csv, and one event to a TensorBoard event file.
type metricsWriter struct {
	jsonl, csvf *os.File
	csv         *csv.Writer
	tb          *tfevents.Writer
	scalars     []tfevents.Scalar // reused
}

var csvColumns = []string{"iteration", "global_step", "sps", "episodic_return", "episodic_length", "episodes", "return_last10",
	"policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "explained_variance", "grad_norm",
	"learning_rate", "epochs", "overrides", "bonuses", "resets", "imitation_loss", "physics_resets", "rollout_seconds", "update_seconds"}

func openMetrics(dir string) (*metricsWriter, error) {
	j, err := os.OpenFile(filepath.Join(dir, MetricsJSONL), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cpath := filepath.Join(dir, MetricsCSV)
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
	// TensorBoard: a new event file per process (a resumed run adds one
	// to the same directory, which TensorBoard reads as one run).
	if m.tb, err = tfevents.Create(dir); err != nil {
		m.Close()
		return nil, err
	}
	return m, m.csv.Error()
}

// tensorBoard returns st's series under CleanRL's TensorBoard tags (charts/
// and losses/, so that runs of both read alike), and ULTRA's own under
// ultra/. A series that is NaN this iteration (no episode finished) is left
// out by the writer.
func (m *metricsWriter) tensorBoard(st ppo.IterStats) []tfevents.Scalar {
	return append(m.scalars[:0],
		tfevents.Scalar{Tag: "charts/episodic_return", Value: st.ReturnMean},
		tfevents.Scalar{Tag: "charts/episodic_length", Value: st.LengthMean},
		tfevents.Scalar{Tag: "charts/return_last10", Value: st.Return10},
		tfevents.Scalar{Tag: "charts/learning_rate", Value: st.LearningRate},
		tfevents.Scalar{Tag: "charts/SPS", Value: st.SPS},
		tfevents.Scalar{Tag: "losses/value_loss", Value: st.ValueLoss},
		tfevents.Scalar{Tag: "losses/policy_loss", Value: st.PolicyLoss},
		tfevents.Scalar{Tag: "losses/entropy", Value: st.Entropy},
		tfevents.Scalar{Tag: "losses/approx_kl", Value: st.ApproxKL},
		tfevents.Scalar{Tag: "losses/clipfrac", Value: st.ClipFrac},
		tfevents.Scalar{Tag: "losses/explained_variance", Value: st.ExplainedVar},
		tfevents.Scalar{Tag: "losses/grad_norm", Value: st.GradNorm},
		tfevents.Scalar{Tag: "losses/imitation_loss", Value: st.ImitationLoss},
		tfevents.Scalar{Tag: "ultra/overrides", Value: float64(st.Overrides)},
		tfevents.Scalar{Tag: "ultra/bonuses", Value: float64(st.Bonuses)},
		tfevents.Scalar{Tag: "ultra/resets", Value: float64(st.Resets)},
		tfevents.Scalar{Tag: "perf/rollout_seconds", Value: st.RolloutSec},
		tfevents.Scalar{Tag: "perf/update_seconds", Value: st.UpdateSec},
		tfevents.Scalar{Tag: "perf/env_busy", Value: st.EnvBusy},
	)
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
	if err := m.csv.Error(); err != nil {
		return err
	}
	m.scalars = m.tensorBoard(st)
	if err := m.tb.Write(st.GlobalStep, m.scalars...); err != nil {
		return err
	}
	return m.tb.Flush()
}

func (m *metricsWriter) Close() error {
	err := errors.Join(m.jsonl.Close(), m.csvf.Close())
	if m.tb != nil {
		err = errors.Join(err, m.tb.Close())
	}
	return err
}

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

// TrimMetrics drops metric rows past the checkpoint's iteration: after a
// crash, the iterations since the checkpoint are redone.
func TrimMetrics(dir string, iteration int) error {
	for _, name := range []string{MetricsJSONL, MetricsCSV} {
		path := filepath.Join(dir, name)
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
			if name == MetricsJSONL {
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
		if err := atomicfile.Write(path, []byte(data)); err != nil {
			return err
		}
	}
	return nil
}
