package mujoco

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pendulum = `<mujoco model="pendulum">
  <option timestep="0.002"/>
  <worldbody>
    <geom type="plane" size="1 1 0.1"/>
    <body name="pole" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.05" mass="1"/>
      <body name="ball" pos="0 0 -0.5">
        <joint name="hinge2" type="hinge" axis="0 1 0"/>
        <geom type="sphere" size="0.1" mass="0.5"/>
      </body>
    </body>
  </worldbody>
  <actuator><motor joint="hinge" gear="2" ctrlrange="-1 1" ctrllimited="true"/></actuator>
  <sensor><jointpos joint="hinge"/></sensor>
</mujoco>`

func mustLoad(t testing.TB) (*Model, *Data) {
	t.Helper()
	m, err := LoadXML(pendulum)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewData(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(); m.Close() })
	return m, d
}

func TestModelSizes(t *testing.T) {
	m, d := mustLoad(t)
	if m.NQ() != 2 || m.NV() != 2 || m.NU() != 1 || m.NBody() != 3 || m.NSensorData() != 1 {
		t.Fatalf("sizes nq=%d nv=%d nu=%d nbody=%d nsensor=%d", m.NQ(), m.NV(), m.NU(), m.NBody(), m.NSensorData())
	}
	if got := m.Timestep(); got != 0.002 {
		t.Errorf("timestep %v", got)
	}
	if id := m.ID(ObjJoint, "hinge2"); id != 1 || m.Name(ObjJoint, id) != "hinge2" {
		t.Errorf("joint id %d name %q", id, m.Name(ObjJoint, id))
	}
	if m.ID(ObjBody, "nope") != -1 {
		t.Error("unknown name should give -1")
	}
	if g := m.ActuatorGear()[0]; g != 2 {
		t.Errorf("gear %v", g)
	}
	if len(d.QPos()) != 2 || len(d.XPos()) != 9 || len(d.SensorData()) != 1 {
		t.Error("slice lengths")
	}
	if v := Version(); !strings.Contains(v, ".") {
		t.Errorf("version %q", v)
	}
}

func TestLoadErrorsCarryMuJoCoText(t *testing.T) {
	_, err := LoadXML(`<mujoco><worldbody><body><geom type="sphere" size="0.1"/><joint type="bogus"/></body></worldbody></mujoco>`)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("want MuJoCo's message naming the bad value, got %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.xml")
	if err := os.WriteFile(bad, []byte("<mujoco><worldbody>"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("malformed file: %v", err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.xml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSlicesAliasMuJoCoMemory(t *testing.T) {
	_, d := mustLoad(t)
	d.QPos()[0] = 0.3
	d.Forward()
	if s := d.SensorData()[0]; s != 0.3 {
		t.Fatalf("sensor sees %v after writing qpos", s)
	}
	if z := d.XPos()[3*2+2]; math.Abs(z-(1-0.5*math.Cos(0.3))) > 1e-12 {
		t.Fatalf("ball z %v", z)
	}
}

func TestSnapshotRestoreReplaysExactly(t *testing.T) {
	_, d := mustLoad(t)
	d.QPos()[0], d.QPos()[1] = 0.7, -0.4
	d.Ctrl()[0] = 0.5
	if err := d.Step(50); err != nil {
		t.Fatal(err)
	}
	snap := d.Snapshot(nil)
	if len(snap) != d.SnapshotSize() {
		t.Fatalf("snapshot size %d want %d", len(snap), d.SnapshotSize())
	}
	run := func() []float64 {
		for k := 0; k < 100; k++ {
			d.Ctrl()[0] = math.Sin(float64(k))
			if err := d.Step(3); err != nil {
				t.Fatal(err)
			}
		}
		return d.Snapshot(nil)
	}
	a := run()
	if err := d.Restore(snap); err != nil {
		t.Fatal(err)
	}
	b := run()
	for i := range a {
		if a[i] != b[i] { // bit-identical, not approximately equal
			t.Fatalf("state %d differs after replay: %v vs %v", i, a[i], b[i])
		}
	}
	if err := d.Restore(snap[:3]); err == nil || !strings.Contains(err.Error(), "snapshot has 3 values") {
		t.Fatalf("short snapshot: %v", err)
	}
	// Corrupt values are refused and leave the state as it was.
	before := d.Snapshot(nil)
	for _, bad := range []float64{math.NaN(), math.Inf(1), 1e300, -2e10} {
		c := append([]float64(nil), snap...)
		c[len(c)/2] = bad
		if err := d.Restore(c); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("snapshot with %v: %v", bad, err)
		}
		if now := d.Snapshot(nil); now[len(now)/2] != before[len(before)/2] {
			t.Fatalf("a refused snapshot changed the state")
		}
	}
	if allocs := testing.AllocsPerRun(10, func() { snap = d.Snapshot(snap) }); allocs != 0 {
		t.Errorf("Snapshot into a sized buffer allocates %v", allocs)
	}
}

func TestUnstableStepIsReported(t *testing.T) {
	var msgs []string
	SetWarningHandler(func(m string) { msgs = append(msgs, m) })
	defer SetWarningHandler(nil)
	_, d := mustLoad(t)
	d.QVel()[0] = math.NaN()
	err := d.Step(4)
	we, ok := err.(*WarningError)
	if !ok {
		t.Fatalf("want *WarningError, got %v", err)
	}
	if !we.Warning.Unstable() || !strings.Contains(strings.ToLower(we.Message), "qvel") {
		t.Fatalf("warning %v message %q", we.Warning, we.Message)
	}
	if d.Warnings()[WarnBadQVel] != 1 {
		t.Errorf("counts %v", d.Warnings())
	}
	if len(msgs) == 0 {
		t.Error("warning handler never called")
	}
	for _, v := range d.QVel() {
		if math.IsNaN(v) {
			t.Fatal("MuJoCo should have reset the state")
		}
	}
	if err := d.Step(4); err != nil { // the reset state steps normally again
		t.Fatal(err)
	}
}

// fallingBoxes lands three boxes on a plane. Its stack (nstack, MuJoCo 2.x)
// is enough to compile the model and compute the contact-free first state,
// but not for the solver once the boxes touch the floor.
const fallingBoxes = `<mujoco><option timestep="0.01"/><size nstack="500"/>
  <worldbody><geom type="plane" size="5 5 0.1"/>
    <body pos="0 0 0.3"><freejoint/><geom type="box" size="0.1 0.1 0.1"/></body>
    <body pos="0.05 0 0.6"><freejoint/><geom type="box" size="0.1 0.1 0.1"/></body>
    <body pos="0 0.05 0.9"><freejoint/><geom type="box" size="0.1 0.1 0.1"/></body>
  </worldbody></mujoco>`

// TestMuJoCoErrorsAreReturned checks that a fatal MuJoCo error (mju_error)
// comes back from the call that raised it instead of going to MuJoCo's
// default handler, which prints "Press Enter to exit", waits on stdin and
// exits the test binary (issue 14, finding 7).
func TestMuJoCoErrorsAreReturned(t *testing.T) {
	m, err := LoadXML(fallingBoxes)
	if err != nil {
		t.Skipf("this MuJoCo (%s) has no nstack attribute: %v", Version(), err)
	}
	defer m.Close()
	d, err := NewData(m)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for round := range 2 { // the data is usable again after an error
		err = d.Step(300)
		var me *Error
		if !errors.As(err, &me) || me.Op != "mj_step" || !strings.Contains(me.Message, "Stack overflow") {
			t.Fatalf("round %d: want *mujoco.Error from mj_step naming the stack overflow, got %v", round, err)
		}
		if d.Time() != 0 {
			t.Fatalf("round %d: the data was not reset after the error (t=%v)", round, d.Time())
		}
	}
	if err := d.Forward(); err != nil {
		t.Fatalf("Forward after the error: %v", err)
	}
	if err := d.CLoop(300, 1, 0, 1); err == nil || !strings.Contains(err.Error(), "Stack overflow") {
		t.Fatalf("CLoop: want the stack overflow, got %v", err)
	}
	// A model whose stack cannot even compile fails in LoadXML with
	// MuJoCo's text.
	if _, err := LoadXML(strings.Replace(fallingBoxes, `nstack="500"`, `nstack="8"`, 1)); err == nil || !strings.Contains(err.Error(), "Stack overflow") {
		t.Fatalf("LoadXML with nstack 8: %v", err)
	}
}

func TestDataBytes(t *testing.T) {
	_, d := mustLoad(t)
	// MuJoCo's stack alone is thousands of values; the whole data of even a
	// small model is tens of kilobytes and well under a gigabyte.
	if b := d.Bytes(); b < 10_000 || b > 1<<30 {
		t.Fatalf("Bytes() = %d, want a plausible size", b)
	}
}

// TestCLoopInTurn: the in-turn C loop advances every data by the steps
// asked, refuses an empty list and datas of two models, and resets every
// data when MuJoCo raises an error.
func TestCLoopInTurn(t *testing.T) {
	m, a := mustLoad(t)
	b, err := NewData(m)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const steps, skip = 7, 3
	if err := CLoopInTurn([]*Data{a, b}, steps, skip, 0, 1); err != nil {
		t.Fatal(err)
	}
	want := steps * skip * m.Timestep()
	for i, d := range []*Data{a, b} {
		if got := d.Time(); math.Abs(got-want) > 1e-9 {
			t.Errorf("data %d: time %v after the loop, want %v", i, got, want)
		}
	}
	if err := CLoopInTurn(nil, 1, 1, 0, 1); err == nil || !strings.Contains(err.Error(), "no data") {
		t.Errorf("no data: %v", err)
	}
	_, other := mustLoad(t)
	if err := CLoopInTurn([]*Data{a, other}, 1, 1, 0, 1); err == nil || !strings.Contains(err.Error(), "another model") {
		t.Errorf("two models: %v", err)
	}

	boxes, err := LoadXML(fallingBoxes)
	if err != nil {
		t.Skipf("this MuJoCo has no nstack attribute: %v", err)
	}
	defer boxes.Close()
	var ds []*Data
	for range 2 {
		d, err := NewData(boxes)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ds = append(ds, d)
	}
	if err := CLoopInTurn(ds, 300, 1, 0, 1); err == nil || !strings.Contains(err.Error(), "Stack overflow") {
		t.Fatalf("want the stack overflow, got %v", err)
	}
	for i, d := range ds {
		if d.Time() != 0 {
			t.Errorf("data %d was not reset after the error (t=%v)", i, d.Time())
		}
	}
}
