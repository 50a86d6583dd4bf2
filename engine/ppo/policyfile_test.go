package ppo

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadPolicyFromSafetensors: an exported policy acts exactly as the
// checkpoint it came from; files that are not ultra's, or damaged, are
// refused naming what is wrong; a checkpoint and a run directory load as
// before.
func TestLoadPolicyFromSafetensors(t *testing.T) {
	tr, err := New(small(), hopper(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Iterate(); err != nil {
		t.Fatal(err)
	}
	ck, _ := tr.Checkpoint()
	dir := t.TempDir()
	if err := ck.Save(filepath.Join(dir, CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	var st bytes.Buffer
	if err := ck.ExportSafetensors(&st, tr.Spec().Action); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "policy.safetensors")
	os.WriteFile(good, st.Bytes(), 0o644)
	obs := make([]float32, 5*11)
	for i := range obs {
		obs[i] = float32(i%7) - 3
	}
	act := func(c *Checkpoint) []float32 {
		p, err := NewPolicy(c, tr.Spec(), true, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		a := make([]float32, 5*3)
		p.Act(obs, 5, a)
		return a
	}
	want := act(ck)
	for _, path := range []string{good, dir, filepath.Join(dir, CheckpointFile)} {
		c, err := LoadPolicy(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for i, v := range act(c) {
			if v != want[i] {
				t.Fatalf("%s: action value %d is %v, the checkpoint's %v", path, i, v, want[i])
			}
		}
	}
	// Damage: another format, and a tensor's bytes past the end.
	b := st.Bytes()
	n := binary.LittleEndian.Uint64(b)
	other := bytes.Replace(b, []byte(`"format":"ultra-ppo-v1"`), []byte(`"format":"somebodys-v9"`), 1)
	cut := append([]byte(nil), b[:8+n+16]...)
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"another format", "not an ultra policy", other},
		{"cut short", "damaged or not ultra's", cut},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".safetensors")
		os.WriteFile(p, tc.data, 0o644)
		if _, err := LoadPolicy(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
