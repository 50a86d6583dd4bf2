//go:build render

package mujoco

// #cgo LDFLAGS: -lOSMesa
// #include <stdlib.h>
// #include "render.h"
import "C"

import (
	"errors"
	"fmt"
	"image"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// RendererBuilt reports whether this build has the offscreen renderer
// (build tag render).
const RendererBuilt = true

// Renderer draws states of a model offscreen with MuJoCo's own renderer
// (mjv_updateScene, mjr_render, mjr_readPixels) in an OSMesa OpenGL context,
// so it needs no display and no GPU. It holds a private copy of the model
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
}

// NewRenderer makes a renderer of m's states at o's size and camera. The
// environment variable MUJOCO_GL may be unset or "osmesa"; other values
// are refused.
func NewRenderer(m *Model, o RenderOptions) (*Renderer, error) {
	if m == nil || m.m == nil {
		return nil, errors.New("mujoco: NewRenderer: model is nil or closed")
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := glBackend(); err != nil {
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
	if errBuf == nil || rgb == nil {
		C.free(unsafe.Pointer(errBuf))
		C.free(rgb)
		d.Close()
		own.Close()
		return nil, errors.New("mujoco: NewRenderer: out of memory")
	}
	cr := C.ultra_render_new(cp, C.int(o.Width), C.int(o.Height), errBuf, errSize)
	if cr == nil {
		msg := strings.TrimSpace(C.GoString(errBuf))
		C.free(unsafe.Pointer(errBuf))
		C.free(rgb)
		d.Close()
		own.Close()
		return nil, fmt.Errorf("mujoco: offscreen renderer (OSMesa): %s", msg)
	}
	c := o.Camera
	C.ultra_render_camera(cr, C.int(body), C.double(c.Distance), C.double(c.Azimuth), C.double(c.Elevation))
	r := &Renderer{r: cr, model: own, data: d, w: o.Width, h: o.Height,
		rgb: unsafe.Slice((*byte)(rgb), o.Width*o.Height*3), err: errBuf}
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

// glBackend reads MUJOCO_GL as Gymnasium and dm_control name it. This build
// renders with OSMesa only; any other choice is refused with what to do.
func glBackend() error {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("MUJOCO_GL"))); v {
	case "", "osmesa":
		return nil
	default:
		return fmt.Errorf("mujoco: MUJOCO_GL=%s: ultra renders offscreen with OSMesa only (EGL and GLFW are not built in): unset MUJOCO_GL or set MUJOCO_GL=osmesa", v)
	}
}
