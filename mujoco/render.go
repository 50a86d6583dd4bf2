//go:build render

package mujoco

// #cgo LDFLAGS: -lOSMesa -ldl -lpthread
// #include <stdlib.h>
// #include "render.h"
// #include "render_egl.h"
import "C"

import (
	"errors"
	"fmt"
	"image"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// RendererBuilt reports whether this build has the offscreen renderer
// (build tag render).
const RendererBuilt = true

// Renderer draws states of a model offscreen with MuJoCo's own renderer
// (mjv_updateScene, mjr_render, mjr_readPixels) in an OpenGL context that
// needs no display: OSMesa (software, the default) or EGL (MUJOCO_GL=egl:
// the GPU with an NVIDIA driver, see [GLBackend]). It holds a private copy of the model
// (with an offscreen buffer of its size, no multisampling and a shadow map
// of at most 2048², for speed in software) and its own data, into which
// [Renderer.Render] restores the snapshot it draws: the image depends on
// the snapshot alone. A Renderer is safe for concurrent use; calls are
// serialised.
type Renderer struct {
	mu    sync.Mutex
	r     *C.ultra_renderer
	model *Model
	data  *Data
	w, h  int
	rgb   []byte // w×h×3, C memory
	err   *C.char
	desc  string
}

// NewRenderer makes a renderer of m's states at o's size and camera, in
// the OpenGL backend that MUJOCO_GL names (see [GLBackend]).
func NewRenderer(m *Model, o RenderOptions) (*Renderer, error) {
	if m == nil || m.m == nil {
		return nil, errors.New("mujoco: NewRenderer: model is nil or closed")
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	gl, err := GLBackend()
	if err != nil {
		return nil, err
	}
	body := -1
	if o.Camera.Body != "" {
		if body = m.ID(ObjBody, o.Camera.Body); body < 0 {
			return nil, fmt.Errorf("mujoco: camera: the model has no body %q to track", o.Camera.Body)
		}
	}
	cp := C.mj_copyModel(nil, m.m)
	if cp == nil {
		return nil, errors.New("mujoco: NewRenderer: copying the model failed (out of memory?)")
	}
	own := &Model{m: cp}
	runtime.SetFinalizer(own, (*Model).Close)
	// The offscreen framebuffer is made at the model's offwidth × offheight.
	g := &cp.vis.global
	g.offwidth = C.int(max(int(g.offwidth), o.Width))
	g.offheight = C.int(max(int(g.offheight), o.Height))
	// Software OpenGL pays for every sample and shadow-map texel: without
	// multisampling and with a shadow map of at most 2048² (MuJoCo's
	// default is 4096²), a 480×480 hopper frame takes about a third of the
	// time (BenchmarkRender in mujoco/tasks).
	q := &cp.vis.quality
	q.offsamples = 0
	q.shadowsize = C.int(min(int(q.shadowsize), 2048))
	d, err := NewData(own)
	if err != nil {
		own.Close()
		return nil, err
	}
	errBuf := (*C.char)(C.calloc(errSize, 1))
	rgb := C.malloc(C.size_t(o.Width * o.Height * 3))
	fail := func(err error) (*Renderer, error) {
		C.free(unsafe.Pointer(errBuf))
		C.free(rgb)
		d.Close()
		own.Close()
		return nil, err
	}
	if errBuf == nil || rgb == nil {
		return fail(errors.New("mujoco: NewRenderer: out of memory"))
	}
	backend, device := C.int(C.ULTRA_GL_OSMESA), C.int(-1)
	if gl.Name == "egl" {
		lib := C.CString(eglLibrary)
		device = C.ultra_egl_open(lib, C.int(gl.Device), errBuf, errSize)
		C.free(unsafe.Pointer(lib))
		if device < 0 {
			return fail(fmt.Errorf("mujoco: offscreen renderer (MUJOCO_GL=egl): %s", strings.TrimSpace(C.GoString(errBuf))))
		}
		backend = C.ULTRA_GL_EGL
	}
	cr := C.ultra_render_new(cp, C.int(o.Width), C.int(o.Height), backend, device, errBuf, errSize)
	if cr == nil {
		return fail(fmt.Errorf("mujoco: offscreen renderer (%s): %s", gl, strings.TrimSpace(C.GoString(errBuf))))
	}
	c := o.Camera
	C.ultra_render_camera(cr, C.int(body), C.double(c.Distance), C.double(c.Azimuth), C.double(c.Elevation))
	r := &Renderer{r: cr, model: own, data: d, w: o.Width, h: o.Height,
		rgb: unsafe.Slice((*byte)(rgb), o.Width*o.Height*3), err: errBuf,
		desc: C.GoString(C.ultra_render_describe(cr))}
	runtime.SetFinalizer(r, (*Renderer).Close)
	return r, nil
}

// Render restores snap (a [Data.Snapshot] of the renderer's model) and
// draws it into dst, which is reused when it has the renderer's size and
// allocated otherwise; it returns the image.
func (r *Renderer) Render(snap []float64, dst *image.RGBA) (*image.RGBA, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.r == nil {
		return nil, errors.New("mujoco: Render: the renderer is closed")
	}
	if err := r.data.Restore(snap); err != nil {
		return nil, fmt.Errorf("mujoco: Render: %w", err)
	}
	if C.ultra_render(r.r, r.data.d, (*C.uchar)(unsafe.Pointer(&r.rgb[0])), r.err, errSize) != 0 {
		return nil, &Error{Op: "render", Message: C.GoString(r.err)}
	}
	if dst == nil || dst.Rect != image.Rect(0, 0, r.w, r.h) {
		dst = image.NewRGBA(image.Rect(0, 0, r.w, r.h))
	}
	// OpenGL's rows run bottom to top.
	for y := 0; y < r.h; y++ {
		src := r.rgb[(r.h-1-y)*r.w*3:]
		row := dst.Pix[y*dst.Stride:]
		for x := 0; x < r.w; x++ {
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = src[3*x], src[3*x+1], src[3*x+2], 255
		}
	}
	return dst, nil
}

// Close frees the OpenGL context, the model copy and the data. It is
// idempotent and is also run by a finalizer.
func (r *Renderer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.r == nil {
		return nil
	}
	C.ultra_render_free(r.r)
	r.r = nil
	C.free(unsafe.Pointer(&r.rgb[0]))
	r.rgb = nil
	C.free(unsafe.Pointer(r.err))
	r.data.Close()
	r.model.Close()
	runtime.SetFinalizer(r, nil)
	return nil
}

func (o RenderOptions) validate() error {
	if o.Width < 1 || o.Height < 1 || o.Width > MaxRenderSide || o.Height > MaxRenderSide {
		return fmt.Errorf("mujoco: render size %d×%d: width and height must be in [1, %d]", o.Width, o.Height, MaxRenderSide)
	}
	if o.Camera.Distance < 0 {
		return fmt.Errorf("mujoco: camera distance %g: must be ≥ 0 (0: MuJoCo's default)", o.Camera.Distance)
	}
	return nil
}

// String names the renderer's OpenGL backend and renderer, as logs show
// it: "OSMesa: llvmpipe (LLVM 15.0.6, 256 bits)", or "EGL device 0 of 2,
// NVIDIA: NVIDIA H100 80GB HBM3/PCIe/SSE2" when EGL renders on a GPU.
func (r *Renderer) String() string { return r.desc }

// eglLibrary is the EGL library opened for MUJOCO_GL=egl (a variable for
// the test of a machine without it).
var eglLibrary = "libEGL.so.1"

// GL is an OpenGL backend for the offscreen renderer.
type GL struct {
	// Name is "osmesa" or "egl".
	Name string
	// Device is the EGL device (MUJOCO_EGL_DEVICE_ID), or -1: the first
	// that opens. Unused by OSMesa.
	Device int
}

func (g GL) String() string {
	if g.Name == "egl" && g.Device >= 0 {
		return fmt.Sprintf("MUJOCO_GL=egl, MUJOCO_EGL_DEVICE_ID=%d", g.Device)
	}
	return "MUJOCO_GL=" + g.Name
}

// GLBackend reads the environment as Gymnasium and dm_control name it:
// MUJOCO_GL unset or "osmesa" renders in software with OSMesa; "egl"
// renders through EGL without a display, on the GPU where an NVIDIA driver
// provides EGL (libEGL.so.1 is opened at run time; a build needs nothing
// more than OSMesa), on the first EGL device that opens or on
// MUJOCO_EGL_DEVICE_ID. "glfw" (a window) and anything else are refused
// with what to do.
func GLBackend() (GL, error) {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("MUJOCO_GL")))
	switch v {
	case "", "osmesa":
		return GL{Name: "osmesa", Device: -1}, nil
	case "egl":
		g := GL{Name: "egl", Device: -1}
		if id, ok := os.LookupEnv("MUJOCO_EGL_DEVICE_ID"); ok && strings.TrimSpace(id) != "" {
			n, err := strconv.Atoi(strings.TrimSpace(id))
			if err != nil || n < 0 {
				return GL{}, fmt.Errorf("mujoco: MUJOCO_EGL_DEVICE_ID=%q: must be an EGL device index ≥ 0 (unset: the first device that opens)", id)
			}
			g.Device = n
		}
		return g, nil
	case "glfw":
		return GL{}, errors.New("mujoco: MUJOCO_GL=glfw: ultra renders offscreen and opens no window: set MUJOCO_GL=egl (GPU, no display needed) or osmesa (software), or unset it")
	default:
		return GL{}, fmt.Errorf("mujoco: MUJOCO_GL=%s: unknown OpenGL backend: set MUJOCO_GL=egl or osmesa, or unset it (osmesa)", v)
	}
}
