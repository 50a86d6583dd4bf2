package video

import (
	"image"
	"image/color"
	"image/draw"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// overlayer draws a line of text in white on an opaque black band at the
// bottom left of a frame (where Pong has its wall, not its scores), in the standard library's 7×13 bitmap font
// (basicfont), scaled by whole pixels on large frames so it stays legible.
type overlayer struct {
	small *image.RGBA // the text at scale 1
}

// overlayScale is the text's scale on a frame w pixels wide: 1 up to 719
// pixels, 2 from 720, and so on.
func overlayScale(w int) int { return max(1, (w+240)/720) }

// draw writes text onto img.
func (o *overlayer) draw(img *image.RGBA, text string) {
	face := basicfont.Face7x13
	const pad = 3
	w := font.MeasureString(face, text).Ceil() + 2*pad
	h := face.Height + 2*pad - 2
	if o.small == nil || o.small.Rect.Dx() != w {
		o.small = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	draw.Draw(o.small, o.small.Rect, image.NewUniform(color.Black), image.Point{}, draw.Src)
	d := font.Drawer{Dst: o.small, Src: image.NewUniform(color.White), Face: face,
		Dot: fixed.P(pad, pad+face.Ascent-1)}
	d.DrawString(text)
	s := overlayScale(img.Rect.Dx())
	b := img.Bounds()
	top := max(b.Min.Y, b.Max.Y-h*s)
	for y := 0; y < h*s && top+y < b.Max.Y; y++ {
		for x := 0; x < w*s && b.Min.X+x < b.Max.X; x++ {
			i, j := img.PixOffset(b.Min.X+x, top+y), o.small.PixOffset(x/s, y/s)
			copy(img.Pix[i:i+4], o.small.Pix[j:j+4])
		}
	}
}
