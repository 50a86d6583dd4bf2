package pong

import (
	"fmt"
	"image"
)

// ImageScale is the default scale of [Renderer]'s images: 3 × the 210×160
// frame, 480 pixels wide as the MuJoCo tasks' images.
const ImageScale = 3

// maxImageSide bounds a Renderer's width and height.
const maxImageSide = 4096

// Renderer draws Pong states for videos and reports: the game's own
// 210×160 RGB frame ([Game.Frame]) of a snapshot, scaled to the image size
// by nearest neighbour, so every Atari pixel stays a sharp block. It
// implements env.Renderer.
type Renderer struct {
	game  *Game
	obs   []float32
	frame []uint8
	w, h  int
	xs    []int // source column of each image column
	ys    []int // source row of each image row
}

// NewRenderer makes a renderer of snapshots of games under cfg, width ×
// height pixels. A zero side follows the frame's aspect from the other;
// both zero: [ImageScale] × 210×160 (480×630).
func NewRenderer(cfg Config, width, height int) (*Renderer, error) {
	switch {
	case width == 0 && height == 0:
		width, height = ImageScale*ScreenW, ImageScale*ScreenH
	case height == 0:
		height = (width*ScreenH + ScreenW/2) / ScreenW
	case width == 0:
		width = (height*ScreenW + ScreenH/2) / ScreenH
	}
	if width < 1 || height < 1 || width > maxImageSide || height > maxImageSide {
		return nil, fmt.Errorf("pong: image size %d×%d: width and height must be in [1, %d]", width, height, maxImageSide)
	}
	cfg.Obs = ObsFeatures // the frame is drawn from the game state; no frame stack needed
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	r := &Renderer{game: g, obs: make([]float32, NumFeatures), w: width, h: height,
		xs: make([]int, width), ys: make([]int, height)}
	for x := range r.xs {
		r.xs[x] = x * ScreenW / width
	}
	for y := range r.ys {
		r.ys[y] = y * ScreenH / height
	}
	return r, nil
}

// Render draws the frame of snap (a [Game.Snapshot]) into dst, reused when
// it has the renderer's size, and returns the image.
func (r *Renderer) Render(snap []float64, dst *image.RGBA) (*image.RGBA, error) {
	if err := r.game.Restore(snap, r.obs); err != nil {
		return nil, err
	}
	r.frame = r.game.Frame(r.frame)
	if dst == nil || dst.Rect != image.Rect(0, 0, r.w, r.h) {
		dst = image.NewRGBA(image.Rect(0, 0, r.w, r.h))
	}
	for y, sy := range r.ys {
		row := dst.Pix[y*dst.Stride:]
		src := r.frame[sy*ScreenW*3:]
		for x, sx := range r.xs {
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = src[3*sx], src[3*sx+1], src[3*sx+2], 255
		}
	}
	return dst, nil
}

// Close implements env.Renderer; a Renderer holds no outside resources.
func (r *Renderer) Close() error { return nil }
