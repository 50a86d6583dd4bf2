package ppo

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// obsAround draws n observations around ck's normaliser, in turn near the
// mean (0.1 σ), typical (1 σ) and far (100 σ, clipped by the normaliser),
// as rows and as one flat slice.
func obsAround(ck *Checkpoint, n int, rng *rand.Rand) (rows [][]float32, flat []float32) {
	od := len(ck.ObsRMS.Mean)
	rows = make([][]float32, n)
	for i := range rows {
		scale := []float64{0.1, 1, 100}[i%3]
		rows[i] = make([]float32, od)
		for j := range rows[i] {
			rows[i][j] = float32(ck.ObsRMS.Mean[j] + scale*math.Sqrt(ck.ObsRMS.Var[j])*rng.NormFloat64())
		}
		flat = append(flat, rows[i]...)
	}
	return rows, flat
}

// runPython writes obs as JSON into dir, runs /usr/bin/python3 script
// args… OBS.json and decodes what it prints into out.
func runPython(t *testing.T, dir string, obs [][]float32, out any, script string, args ...string) {
	t.Helper()
	js, _ := json.Marshal(obs)
	obsFile := filepath.Join(dir, "obs.json")
	if err := os.WriteFile(obsFile, js, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", append(append([]string{script}, args...), obsFile)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s printed %.300s: %v", script, b, err)
	}
}
