package mujoco

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzRestore feeds arbitrary snapshots (the bytes read as float64s) to
// Data.Restore, the decoder every stored simulator state goes through:
// trajectory and annotation snapshots, checkpoints' env states (issue 14's
// fuzzing). A snapshot it accepts must step without panicking, and the
// state afterwards must be finite or the step must report instability.
func FuzzRestore(f *testing.F) {
	_, d := mustLoad(f)
	d.QPos()[0], d.QVel()[1], d.Ctrl()[0] = 0.4, -2, 0.7
	if err := d.Step(25); err != nil {
		f.Fatal(err)
	}
	snap := d.Snapshot(nil)
	enc := func(v []float64) []byte {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
		return b
	}
	f.Add(enc(snap))
	huge := append([]float64(nil), snap...)
	huge[3] = 9e9
	f.Add(enc(huge))
	f.Add(enc(snap[:5]))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := make([]float64, len(b)/8)
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		if err := d.Restore(v); err != nil {
			return
		}
		err := d.Step(10)
		if err != nil {
			return // reported instability (MuJoCo reset the data) or a MuJoCo error
		}
		for i, x := range append(d.QPos(), d.QVel()...) {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("state value %d is %v after a step that reported no instability", i, x)
			}
		}
	})
}
