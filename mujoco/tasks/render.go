package tasks

import (
	"fmt"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/mujoco"
)

// Cameras of the tasks' images: each tracks the torso, from the side (+x
// to the right) for the planar walkers and from above at an angle for
// ant, at the distances of Gymnasium's v4 tasks (hopper 3 m, the others
// 4 m).
var (
	planarCamera = func(distance float64) mujoco.Camera {
		return mujoco.Camera{Body: "torso", Distance: distance, Azimuth: 90, Elevation: -20}
	}
	hopperCamera      = planarCamera(3)
	walker2dCamera    = planarCamera(4)
	halfCheetahCamera = planarCamera(4)
	antCamera         = mujoco.Camera{Body: "torso", Distance: 4, Azimuth: 90, Elevation: -45}
)

// newRenderer returns a Spec's NewRenderer for a task over asset: MuJoCo's
// own renderer offscreen (build tag render; the default build answers
// with [mujoco.ErrNoRenderer]), at 480×480 by default.
func newRenderer(asset string, cam mujoco.Camera) func(width, height int) (env.Renderer, error) {
	return func(width, height int) (env.Renderer, error) {
		if width == 0 {
			width = mujoco.DefaultRenderSide
		}
		if height == 0 {
			height = mujoco.DefaultRenderSide
		}
		m, err := Model(asset)
		if err != nil {
			return nil, err
		}
		r, err := mujoco.NewRenderer(m, mujoco.RenderOptions{Width: width, Height: height, Camera: cam})
		if err != nil {
			return nil, fmt.Errorf("tasks: render %s: %w", asset, err)
		}
		return r, nil
	}
}
