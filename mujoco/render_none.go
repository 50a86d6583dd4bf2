//go:build !render

package mujoco

import "image"

// RendererBuilt reports whether this build has the offscreen renderer
// (build tag render).
const RendererBuilt = false

// Renderer draws a model's states offscreen. This build has none: see
// [ErrNoRenderer].
type Renderer struct{}

// NewRenderer returns [ErrNoRenderer]: this build has no offscreen
// renderer.
func NewRenderer(*Model, RenderOptions) (*Renderer, error) { return nil, ErrNoRenderer }

// Render returns [ErrNoRenderer].
func (*Renderer) Render([]float64, *image.RGBA) (*image.RGBA, error) { return nil, ErrNoRenderer }

// Close does nothing.
func (*Renderer) Close() error { return nil }
