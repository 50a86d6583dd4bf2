// Package mujoco is a small cgo binding to the MuJoCo physics library.
//
// It covers what batched reinforcement-learning environments need: loading a
// model from MJCF, creating simulation data, stepping with a frame skip in a
// single cgo call, reading state arrays as Go slices that alias MuJoCo's own
// memory (no copies), and taking exact snapshots of the physics state.
//
// The binding uses only the part of the C API that both MuJoCo 2.2 (Debian's
// libmujoco-dev) and MuJoCo 3.x provide, so it builds against either.
//
// MuJoCo's fatal errors (mju_error: out of memory, stack overflow) come back
// as an *[Error] from the call that raised them; the process never exits or
// waits on stdin.
//
// MuJoCo's warnings are never swallowed: a warning raised while stepping is
// returned from [Data.Step] as a *[WarningError] carrying MuJoCo's own text,
// and the process-wide warning hook forwards MuJoCo's messages to
// [SetWarningHandler] (log/slog by default) instead of MUJOCO_LOG.TXT.
//
// A Model may be shared by many Data (MuJoCo never writes to the model while
// stepping); a Data must be used by one goroutine at a time.
package mujoco

// #cgo LDFLAGS: -lmujoco
// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"
)

// init installs MuJoCo's warning and error hooks (shim.c): warnings go to
// [SetWarningHandler], errors come back as *[Error] from the call that raised
// them instead of MuJoCo's default, which waits on stdin and exits.
func init() { C.ultra_install_hooks() }

// errSize is the size of the buffers MuJoCo's error text is copied into.
const errSize = 1000

// Version returns the version of the linked MuJoCo library, e.g. "2.2.2".
func Version() string {
	v := int(C.mj_version())
	if v >= 1000 { // MuJoCo 3.x reports e.g. 3002006 for 3.2.6.
		return fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
	}
	return fmt.Sprintf("%d.%d.%d", v/100, v/10%10, v%10)
}

// Model is a compiled MuJoCo model (mjModel). It is read-only once loaded and
// may be shared by any number of Data.
type Model struct {
	m *C.mjModel
}

// LoadXML compiles a model from an MJCF document held in memory. Files the
// document references (meshes, includes) are looked up relative to a
// temporary directory, so models with assets should use [LoadFile].
func LoadXML(mjcf string) (*Model, error) {
	dir, err := os.MkdirTemp("", "ultra-mjcf-")
	if err != nil {
		return nil, fmt.Errorf("mujoco: load MJCF: %w", err)
	}
	defer os.RemoveAll(dir)
	path := dir + "/model.xml"
	if err := os.WriteFile(path, []byte(mjcf), 0o600); err != nil {
		return nil, fmt.Errorf("mujoco: load MJCF: %w", err)
	}
	m, err := loadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mujoco: load MJCF: %w", err)
	}
	return m, nil
}

// LoadFile compiles a model from an MJCF (or URDF) file. On failure the error
// carries MuJoCo's own message, e.g. the offending element and line.
func LoadFile(path string) (*Model, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("mujoco: load %s: %w", path, err)
	}
	m, err := loadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mujoco: load %s: %w", path, err)
	}
	return m, nil
}

func loadFile(path string) (*Model, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	errBuf := (*C.char)(C.calloc(errSize, 1))
	defer C.free(unsafe.Pointer(errBuf))
	cm := C.ultra_load_xml(cpath, errBuf, errSize)
	if cm == nil {
		msg := strings.TrimSpace(C.GoString(errBuf))
		if msg == "" {
			msg = "MuJoCo gave no reason"
		}
		return nil, errors.New(msg)
	}
	model := &Model{m: cm}
	runtime.SetFinalizer(model, (*Model).Close)
	return model, nil
}

// Close frees the model. Data created from it must not be used afterwards.
// Close is idempotent and is also run by a finalizer.
func (m *Model) Close() {
	if m.m != nil {
		C.mj_deleteModel(m.m)
		m.m = nil
		runtime.SetFinalizer(m, nil)
	}
}

// NQ is the number of generalised coordinates (len(qpos)).
func (m *Model) NQ() int { return int(m.m.nq) }

// NV is the number of degrees of freedom (len(qvel)).
func (m *Model) NV() int { return int(m.m.nv) }

// NU is the number of actuators (len(ctrl)).
func (m *Model) NU() int { return int(m.m.nu) }

// NA is the number of actuator activation states (len(act)).
func (m *Model) NA() int { return int(m.m.na) }

// NBody is the number of bodies, the world body included.
func (m *Model) NBody() int { return int(m.m.nbody) }

// NSensorData is the length of the sensor data vector.
func (m *Model) NSensorData() int { return int(m.m.nsensordata) }

// Timestep is the physics timestep in seconds (option/timestep).
func (m *Model) Timestep() float64 { return float64(C.ultra_timestep(m.m)) }

// ObjType names a kind of model element for [Model.ID] and [Model.Name].
type ObjType int

// Element kinds (values of mjtObj).
const (
	ObjBody     ObjType = C.mjOBJ_BODY
	ObjJoint    ObjType = C.mjOBJ_JOINT
	ObjGeom     ObjType = C.mjOBJ_GEOM
	ObjActuator ObjType = C.mjOBJ_ACTUATOR
	ObjSensor   ObjType = C.mjOBJ_SENSOR
)

// ID returns the index of the named element, or -1 if there is none.
func (m *Model) ID(t ObjType, name string) int {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return int(C.mj_name2id(m.m, C.int(t), cname))
}

// Name returns the name of element id of kind t ("" if unnamed).
func (m *Model) Name(t ObjType, id int) string {
	p := C.mj_id2name(m.m, C.int(t), C.int(id))
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// QPos0 is the reference configuration (nq), aliasing the model.
func (m *Model) QPos0() []float64 { return f64(m.m.qpos0, m.NQ()) }

// BodyMass is each body's mass in kg (nbody), aliasing the model.
func (m *Model) BodyMass() []float64 { return f64(m.m.body_mass, m.NBody()) }

// ActuatorCtrlRange is each actuator's [low, high] control range (nu×2).
func (m *Model) ActuatorCtrlRange() []float64 { return f64(m.m.actuator_ctrlrange, 2*m.NU()) }

// ActuatorGear is each actuator's gear vector (nu×6); element 0 scales a
// joint motor's torque.
func (m *Model) ActuatorGear() []float64 { return f64(m.m.actuator_gear, 6*m.NU()) }

// ActuatorJoint is the joint each actuator drives (-1 for other transmissions).
func (m *Model) ActuatorJoint() []int {
	ids := unsafe.Slice((*C.int)(unsafe.Pointer(m.m.actuator_trnid)), 2*m.NU())
	out := make([]int, m.NU())
	for i := range out {
		out[i] = int(ids[2*i])
	}
	return out
}

// JointRange is each joint's [low, high] limit (njnt×2; radians for hinges).
func (m *Model) JointRange() []float64 { return f64(m.m.jnt_range, 2*int(m.m.njnt)) }

func f64(p *C.mjtNum, n int) []float64 {
	if n == 0 || p == nil {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(p)), n)
}
