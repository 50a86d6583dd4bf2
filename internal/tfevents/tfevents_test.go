package tfevents

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// event is what testdata/read_events.py prints per event.
type event struct {
	WallTime    float64            `json:"wall_time"`
	Step        int64              `json:"step"`
	FileVersion string             `json:"file_version"`
	Scalars     map[string]float64 `json:"scalars"`
}

const python = "/usr/bin/python3"

// generatedReader compiles testdata/event.proto with protoc for Python and
// returns the directory of the generated module; it skips the test when
// the independent tools are missing.
func generatedReader(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc not found: apt-get install protobuf-compiler python3-protobuf (make test installs them)")
	}
	if err := exec.Command(python, "-c", "import google.protobuf").Run(); err != nil {
		t.Skip("python3-protobuf not found: apt-get install protobuf-compiler python3-protobuf (make test installs them)")
	}
	gen := t.TempDir()
	if out, err := exec.Command("protoc", "--proto_path=testdata", "--python_out="+gen, "event.proto").CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	return gen
}

// readIndependently decodes an event file with protoc-generated Python
// code and a CRC-32C written from the polynomial (testdata), not with this
// package.
func readIndependently(t *testing.T, path string) []event {
	t.Helper()
	cmd := exec.Command(python, "testdata/read_events.py", generatedReader(t), path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_events.py: %v\n%s", err, stderr.String())
	}
	var evs []event
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestEventsReadByAnIndependentReader(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(w.Path()), "events.out.tfevents.") {
		t.Errorf("file name %s, want events.out.tfevents.*", w.Path())
	}
	steps := []struct {
		step    int64
		scalars []Scalar
	}{
		{2048, []Scalar{{"charts/episodic_return", 12.5}, {"losses/value_loss", 0.25}}},
		{4096, []Scalar{{"charts/episodic_return", math.NaN()}, {"charts/SPS", 3071}}},
		{1 << 40, []Scalar{{"losses/approx_kl", -1e-3}}},
		{8192, []Scalar{{"only/nan", math.Inf(1)}}}, // nothing finite: no event
	}
	for _, s := range steps {
		if err := w.Write(s.step, s.scalars...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	evs := readIndependently(t, w.Path())
	if len(evs) != 4 {
		t.Fatalf("%d events, want the version event and 3 scalar events: %+v", len(evs), evs)
	}
	if evs[0].FileVersion != FileVersion || evs[0].WallTime < 1.7e9 {
		t.Errorf("first event %+v, want file_version %q and a wall time", evs[0], FileVersion)
	}
	for i, want := range []event{
		{Step: 2048, Scalars: map[string]float64{"charts/episodic_return": 12.5, "losses/value_loss": 0.25}},
		{Step: 4096, Scalars: map[string]float64{"charts/SPS": 3071}},
		{Step: 1 << 40, Scalars: map[string]float64{"losses/approx_kl": float64(float32(-1e-3))}},
	} {
		got := evs[i+1]
		if got.Step != want.Step || len(got.Scalars) != len(want.Scalars) || got.WallTime < evs[0].WallTime {
			t.Errorf("event %d: %+v, want %+v", i+1, got, want)
			continue
		}
		for tag, v := range want.Scalars {
			if g, ok := got.Scalars[tag]; !ok || g != v {
				t.Errorf("event %d: %s = %v (present %v), want %v", i+1, tag, g, ok, v)
			}
		}
	}
}

func TestCorruptFileIsRefusedByTheReader(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(1, Scalar{"a", 1})
	w.Close()
	b, _ := os.ReadFile(w.Path())
	b[len(b)-6] ^= 0xff // inside the last event's data
	if err := os.WriteFile(w.Path(), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/read_events.py", generatedReader(t), w.Path())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "bad data CRC") {
		t.Errorf("a flipped byte was not caught by the CRC: %v\n%s", err, out)
	}
}

func TestWriteAllocatesNothing(t *testing.T) {
	w, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	sc := []Scalar{{"charts/SPS", 1}, {"losses/value_loss", 2}}
	w.Write(1, sc...)
	if n := testing.AllocsPerRun(100, func() { w.Write(2, sc...) }); n != 0 {
		t.Errorf("%v allocations per event, want none (the buffers are reused)", n)
	}
}
