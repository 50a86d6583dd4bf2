package run

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// TestTensorBoardMatchesMetricsCSV: a run directory holds a TensorBoard
// event file whose scalars, decoded by an independent reader (protoc's
// Python code over a schema written from TensorFlow's documented field
// numbers, internal/tfevents/testdata), are metrics.csv's series under
// CleanRL's tags, at each iteration's global step.
func TestTensorBoardMatchesMetricsCSV(t *testing.T) {
	const reader = "../../internal/tfevents/testdata"
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc not found: apt-get install protobuf-compiler python3-protobuf (make test installs them)")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import google.protobuf").Run(); err != nil {
		t.Skip("python3-protobuf not found: apt-get install protobuf-compiler python3-protobuf (make test installs them)")
	}
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	c := ppo.Defaults()
	c.NumSteps, c.NumMinibatches, c.TotalSteps = 256, 4, 768
	tr, err := ppo.New(c, spec, ppo.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	dir := t.TempDir()
	if _, err := Loop(t.Context(), tr, Options{Dir: dir, Every: 10}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files %v, want one", files)
	}
	gen := t.TempDir()
	if out, err := exec.Command("protoc", "--proto_path="+reader, "--python_out="+gen, "event.proto").CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	out, err := exec.Command("/usr/bin/python3", filepath.Join(reader, "read_events.py"), gen, files[0]).Output()
	if err != nil {
		t.Fatalf("read_events.py: %v", err)
	}
	byStep := map[int64]map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e struct {
			Step    int64              `json:"step"`
			Scalars map[string]float64 `json:"scalars"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Scalars != nil {
			byStep[e.Step] = e.Scalars
		}
	}
	f, err := os.Open(filepath.Join(dir, MetricsCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if len(rows)-1 != 3 || len(byStep) != 3 {
		t.Fatalf("%d metric rows and %d scalar events, want 3 of each", len(rows)-1, len(byStep))
	}
	for _, r := range rows[1:] {
		step, _ := strconv.ParseInt(r[col["global_step"]], 10, 64)
		ev, ok := byStep[step]
		if !ok {
			t.Errorf("no event at global step %d", step)
			continue
		}
		for tag, column := range map[string]string{
			"charts/SPS": "sps", "charts/learning_rate": "learning_rate", "losses/value_loss": "value_loss",
			"losses/policy_loss": "policy_loss", "losses/entropy": "entropy", "losses/approx_kl": "approx_kl",
			"losses/clipfrac": "clip_frac", "charts/episodic_return": "episodic_return",
		} {
			got, ok := ev[tag]
			if r[col[column]] == "" { // NaN this iteration: no episode finished
				if ok {
					t.Errorf("step %d: %s = %v where metrics.csv's %s is empty", step, tag, got, column)
				}
				continue
			}
			want, err := strconv.ParseFloat(r[col[column]], 64)
			if err != nil {
				t.Fatalf("%s: %v", column, err)
			}
			if !ok || math.Abs(got-float64(float32(want))) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Errorf("step %d: %s = %v (present %v), want metrics.csv's %s %v", step, tag, got, ok, column, want)
			}
		}
	}
}
