package mujoco

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"unsafe"
)

// Warning is one of MuJoCo's warning kinds (mjtWarning).
type Warning int

// MuJoCo's warning kinds.
const (
	WarnInertia     Warning = C.mjWARN_INERTIA     // (near) singular inertia matrix
	WarnContactFull Warning = C.mjWARN_CONTACTFULL // too many contacts
	WarnCnstrFull   Warning = C.mjWARN_CNSTRFULL   // too many constraints
	WarnVGeomFull   Warning = C.mjWARN_VGEOMFULL   // too many visual geoms
	WarnBadQPos     Warning = C.mjWARN_BADQPOS     // NaN/Inf/huge value in qpos
	WarnBadQVel     Warning = C.mjWARN_BADQVEL     // NaN/Inf/huge value in qvel
	WarnBadQAcc     Warning = C.mjWARN_BADQACC     // NaN/Inf/huge value in qacc
	WarnBadCtrl     Warning = C.mjWARN_BADCTRL     // NaN/Inf/huge value in ctrl
	NumWarnings             = int(C.mjNWARNING)
)

var warningNames = [...]string{"inertia", "contact_full", "constraint_full", "vgeom_full", "bad_qpos", "bad_qvel", "bad_qacc", "bad_ctrl"}

// String returns a short snake_case name, e.g. "bad_qacc".
func (w Warning) String() string {
	if int(w) >= 0 && int(w) < len(warningNames) {
		return warningNames[w]
	}
	return fmt.Sprintf("warning(%d)", int(w))
}

// Unstable reports whether the warning means the state became non-finite or
// huge. MuJoCo resets the data when it raises one of these.
func (w Warning) Unstable() bool { return w == WarnBadQPos || w == WarnBadQVel || w == WarnBadQAcc }

// WarningError is returned by [Data.Step] when the simulation became unstable.
// Message is MuJoCo's own text for the warning.
type WarningError struct {
	Warning Warning
	Info    int     // MuJoCo's info value, e.g. the offending DOF index
	Time    float64 // simulation time at which stepping stopped, seconds
	Message string
}

func (e *WarningError) Error() string {
	return fmt.Sprintf("mujoco: unstable simulation (%s) near t=%.4gs: %s", e.Warning, e.Time, e.Message)
}

// Data is the simulation state of one model instance (mjData). It is not safe
// for concurrent use; the slices its accessors return alias MuJoCo's memory
// and stay valid until Close.
type Data struct {
	model *Model // keeps the model alive as long as the data
	d     *C.mjData

	warnings [C.mjNWARNING]int64
	errBuf   *C.char // errSize bytes of C memory for MuJoCo's error text

	qpos, qvel, act, ctrl, warm []float64
	qfrcApplied, xfrcApplied    []float64
	mocapPos, mocapQuat, user   []float64
	xpos, sensor                []float64
}

// NewData allocates simulation data for m, initialised to the model's
// reference configuration.
func NewData(m *Model) (*Data, error) {
	if m == nil || m.m == nil {
		return nil, fmt.Errorf("mujoco: NewData: model is nil or closed")
	}
	errBuf := (*C.char)(C.calloc(errSize, 1))
	if errBuf == nil {
		return nil, fmt.Errorf("mujoco: NewData: out of memory")
	}
	cd := C.ultra_make_data(m.m, errBuf, errSize)
	if cd == nil {
		err := &Error{Op: "mj_makeData", Message: C.GoString(errBuf)}
		C.free(unsafe.Pointer(errBuf))
		return nil, err
	}
	d := &Data{model: m, d: cd, errBuf: errBuf}
	mm := m.m
	nmocap := int(mm.nmocap)
	d.qpos = f64(cd.qpos, m.NQ())
	d.qvel = f64(cd.qvel, m.NV())
	d.act = f64(cd.act, m.NA())
	d.ctrl = f64(cd.ctrl, m.NU())
	d.warm = f64(cd.qacc_warmstart, m.NV())
	d.qfrcApplied = f64(cd.qfrc_applied, m.NV())
	d.xfrcApplied = f64(cd.xfrc_applied, 6*m.NBody())
	d.mocapPos = f64(cd.mocap_pos, 3*nmocap)
	d.mocapQuat = f64(cd.mocap_quat, 4*nmocap)
	d.user = f64(cd.userdata, int(mm.nuserdata))
	d.xpos = f64(cd.xpos, 3*m.NBody())
	d.sensor = f64(cd.sensordata, m.NSensorData())
	runtime.SetFinalizer(d, (*Data).Close)
	return d, nil
}

// Close frees the data. Close is idempotent and is also run by a finalizer.
func (d *Data) Close() {
	if d.d != nil {
		C.mj_deleteData(d.d)
		C.free(unsafe.Pointer(d.errBuf))
		d.d, d.errBuf = nil, nil
		runtime.SetFinalizer(d, nil)
	}
}

// Bytes estimates the memory this data keeps resident, for memory checks.
// MuJoCo zeroes its main buffer, so all of that counts; of the stack (2.x)
// or arena (3.x) it reserves — about 10 MB for the MuJoCo tasks, most never
// touched, so the kernel never backs it — only the pages its high-water
// mark reached are resident. Bytes counts four times that mark, at least
// 64 KiB and at most the reservation, to allow for states with more
// contacts than those seen so far. For hopper this is 3.2 MB, against a
// measured resident 3.2 MB per instance (1000 instances: 3.18 GB VmRSS).
func (d *Data) Bytes() int64 {
	var buffer, reserved, used C.longlong
	C.ultra_data_bytes(d.d, &buffer, &reserved, &used)
	stack := min(int64(reserved), max(64<<10, 4*int64(used)))
	return int64(buffer) + stack + errSize
}

// Model returns the model the data was made from.
func (d *Data) Model() *Model { return d.model }

// Step advances the simulation by n physics steps (mj_step), in one cgo call.
// If the state turns non-finite or huge, MuJoCo resets the data to the
// reference configuration; Step then stops early and returns a
// *WarningError with MuJoCo's text. Other warnings (e.g. contact buffer
// full) do not stop stepping; they are counted in [Data.Warnings]. If
// MuJoCo raises an error (e.g. its stack overflows), the data is reset and
// Step returns it as an *[Error].
func (d *Data) Step(n int) error {
	mask := int(C.ultra_step(d.model.m, d.d, C.int(n), d.errBuf, errSize))
	if mask == 0 {
		return nil
	}
	if mask < 0 {
		return d.error("mj_step")
	}
	var bad *WarningError
	for w := 0; w < NumWarnings; w++ {
		if mask&(1<<w) == 0 {
			continue
		}
		d.warnings[w]++
		if bad == nil && Warning(w).Unstable() {
			info := int(C.ultra_warning_info(d.d, C.int(w)))
			bad = &WarningError{
				Warning: Warning(w),
				Info:    info,
				Time:    d.Time(),
				Message: C.GoString(C.ultra_warning_text(C.int(w), C.int(info))),
			}
		}
	}
	if bad != nil {
		return bad
	}
	return nil
}

// Warnings returns how many calls of Step raised each kind of warning since
// the data was made.
func (d *Data) Warnings() [NumWarnings]int64 { return d.warnings }

// Forward recomputes every derived quantity (positions, contacts, forces)
// from the current state without advancing time (mj_forward). If MuJoCo
// raises an error, the data is reset and the error returned as an *[Error].
func (d *Data) Forward() error {
	if C.ultra_forward(d.model.m, d.d, d.errBuf, errSize) < 0 {
		return d.error("mj_forward")
	}
	return nil
}

// ResetState sets what [Data.Reset] sets (qpos0, zero velocities,
// controls, applied forces and warm start, time 0, cleared counters)
// without clearing the rest of MuJoCo's memory, which [Data.Forward] and
// [Data.Step] compute before they read it: call Forward next, as after
// Reset. With MuJoCo 2.x it costs a few hundred bytes of writes where
// mj_resetData clears the whole buffer (hopper: 221 KB, 34 µs), which with
// many instances on one core also evicts the others' states from the
// caches. Trajectories from ResetState and from Reset are bit-identical
// (tested for every task). With MuJoCo 3.x it is mj_resetData.
func (d *Data) ResetState() { C.ultra_reset_state(d.model.m, d.d) }

// Reset restores the reference configuration (qpos0, zero velocity, time 0)
// with mj_resetData, which also clears all of MuJoCo's memory for the data.
func (d *Data) Reset() error {
	if C.ultra_reset(d.model.m, d.d, d.errBuf, errSize) < 0 {
		return d.error("mj_resetData")
	}
	return nil
}

// Error is a fatal error MuJoCo raised through mju_error (out of memory, a
// stack overflow, an invalid model). The binding catches it in the call that
// raised it, so it never ends the process or waits on stdin.
type Error struct {
	Op      string // the MuJoCo function that failed, e.g. "mj_step"
	Message string // MuJoCo's own text
}

func (e *Error) Error() string { return fmt.Sprintf("mujoco: %s: %s", e.Op, e.Message) }

func (d *Data) error(op string) error {
	return &Error{Op: op, Message: strings.TrimSpace(C.GoString(d.errBuf))}
}

// Time is the simulation time in seconds.
func (d *Data) Time() float64 { return float64(d.d.time) }

// QPos is the generalised position (nq).
func (d *Data) QPos() []float64 { return d.qpos }

// QVel is the generalised velocity (nv).
func (d *Data) QVel() []float64 { return d.qvel }

// Act is the actuator activation state (na).
func (d *Data) Act() []float64 { return d.act }

// Ctrl is the control input (nu); write actions here before Step.
func (d *Data) Ctrl() []float64 { return d.ctrl }

// XPos is each body's Cartesian position in the world frame (nbody×3),
// valid after Step or Forward.
func (d *Data) XPos() []float64 { return d.xpos }

// SensorData is the sensor output vector (nsensordata).
func (d *Data) SensorData() []float64 { return d.sensor }

// SnapshotSize is the length of a snapshot of this data's state.
func (d *Data) SnapshotSize() int {
	return 1 + len(d.qpos) + len(d.qvel) + len(d.act) + len(d.warm) + len(d.ctrl) +
		len(d.qfrcApplied) + len(d.xfrcApplied) + len(d.mocapPos) + len(d.mocapQuat) + len(d.user)
}

func (d *Data) stateParts() [10][]float64 {
	return [10][]float64{d.qpos, d.qvel, d.act, d.warm, d.ctrl, d.qfrcApplied, d.xfrcApplied, d.mocapPos, d.mocapQuat, d.user}
}

// Snapshot writes the full physics state into dst (resized to SnapshotSize;
// no allocation when its capacity suffices) and returns it: time, qpos, qvel,
// act, the solver's warm start, ctrl, applied forces, mocap poses and user
// data. Restoring it and stepping reproduces the original run bit for bit.
func (d *Data) Snapshot(dst []float64) []float64 {
	n := d.SnapshotSize()
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	dst[0] = float64(d.d.time)
	off := 1
	for _, p := range d.stateParts() {
		off += copy(dst[off:], p)
	}
	return dst
}

// Restore sets the state from a snapshot made by Snapshot on data of the same
// model, then recomputes derived quantities (mj_forward).
func (d *Data) Restore(snap []float64) error {
	if n := d.SnapshotSize(); len(snap) != n {
		return fmt.Errorf("mujoco: Restore: snapshot has %d values, this model needs %d (was it taken from another model?)", len(snap), n)
	}
	// A state MuJoCo itself would call bad (mj_checkPos/mj_checkVel: NaN,
	// ±Inf or beyond mjMAXVAL) is refused before anything changes, so a
	// corrupt snapshot cannot turn into NaN observations.
	for i, v := range snap {
		if math.IsNaN(v) || math.Abs(v) > maxVal {
			return fmt.Errorf("mujoco: Restore: snapshot value %d is %v, beyond MuJoCo's limit ±%g: the snapshot is corrupt", i, v, maxVal)
		}
	}
	d.set(snap)
	if err := d.Forward(); err != nil {
		return err
	}
	// mj_forward changes the state it derives from — it leaves its own
	// solution as the constraint solver's warm start and normalises free
	// joints' quaternions in qpos — so the state is set again: the next
	// mj_step starts from exactly the snapshot's, as the original run did,
	// instead of one a few bits off.
	d.set(snap)
	return nil
}

// set copies a checked snapshot into the state.
func (d *Data) set(snap []float64) {
	d.d.time = C.mjtNum(snap[0])
	off := 1
	for _, p := range d.stateParts() {
		off += copy(p, snap[off:])
	}
}

// maxVal is MuJoCo's mjMAXVAL: a position, velocity or acceleration beyond
// it is a bad state.
const maxVal = 1e10

// CLoop runs the benchmark reference: steps iterations of a plain C loop
// over d's model, each writing uniform random controls and calling mj_step
// frameSkip times, with mj_resetData every resetEvery steps (0: never). It
// makes one cgo call, so timing it measures MuJoCo alone.
func (d *Data) CLoop(steps, frameSkip, resetEvery int, seed uint64) error {
	return CLoopInTurn([]*Data{d}, steps, frameSkip, resetEvery, seed)
}

// CLoopInTurn is [Data.CLoop] over several datas of one model, stepped in
// turn: steps iterations, each stepping every data once (len(ds) × steps
// steps in all), each data reset every resetEvery of its own steps. It is
// the plain-C reference for one worker of a VecEnv stepping len(ds)
// instances: what MuJoCo costs with that many states in one core's caches.
// On a MuJoCo error every data is reset and the error returned.
func CLoopInTurn(ds []*Data, steps, frameSkip, resetEvery int, seed uint64) error {
	if len(ds) == 0 {
		return errors.New("mujoco: CLoopInTurn: no data")
	}
	ptrs := make([]*C.mjData, len(ds))
	for i, d := range ds {
		if d.model != ds[0].model {
			return fmt.Errorf("mujoco: CLoopInTurn: data %d is of another model than data 0", i)
		}
		ptrs[i] = d.d
	}
	d := ds[0]
	if C.ultra_cloop(d.model.m, &ptrs[0], C.int(len(ds)), C.long(steps), C.int(frameSkip), C.int(resetEvery),
		C.ulonglong(seed), d.errBuf, errSize) < 0 {
		return d.error("mj_step")
	}
	return nil
}
