package mujoco

import "errors"

// ErrNoRenderer is returned by [NewRenderer] in a build without the
// offscreen renderer (the default build: it needs no OpenGL library).
var ErrNoRenderer = errors.New("mujoco: this build of ultra has no offscreen renderer: " +
	"install OSMesa (sudo apt-get install libosmesa6-dev) and build with the render tag " +
	"(make build-render, or go build -tags render ./cmd/ultra)")

// Camera places the renderer's camera.
type Camera struct {
	// Body is the name of the body the camera tracks (its subtree's centre
	// of mass stays at the image centre), as Gymnasium's MuJoCo tasks track
	// the torso. Empty: a fixed camera over the whole model (MuJoCo's free
	// camera at its default pose).
	Body string
	// Distance from the look-at point in metres; 0 keeps MuJoCo's default
	// (a multiple of the model's extent).
	Distance float64
	// Azimuth in degrees about the vertical axis: 90 looks along +y, so
	// that +x runs to the right of the image (the planar walkers' side view).
	Azimuth float64
	// Elevation in degrees: negative looks down from above.
	Elevation float64
}

// RenderOptions sizes a [Renderer] and places its camera.
type RenderOptions struct {
	Width, Height int // image size in pixels, each in [1, MaxRenderSide]
	Camera        Camera
}

// MaxRenderSide bounds the image's width and height.
const MaxRenderSide = 4096

// DefaultRenderSide is the image side Gymnasium's MuJoCo tasks render at
// by default (480×480).
const DefaultRenderSide = 480
