package video

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"
	"sort"
)

// gifWriter streams an animated GIF: each frame is encoded on its own by
// the standard library's image/gif against one global palette, and its
// image block is appended to the file, so memory stays at one frame
// however long the video. The palette is fitted to the first frame (the
// 256 most common colours at 5 bits a channel); every later pixel maps to
// its nearest entry through a 32768-entry table. Frames are not dithered:
// static parts of the scene stay identical from frame to frame.
type gifWriter struct {
	w        io.Writer
	delay    int // centiseconds a frame
	palette  color.Palette
	lut      []uint8 // 5-bit RGB → palette index
	pal      *image.Paletted
	buf      bytes.Buffer
	frames   int
	headerOK bool
}

func newGIFWriter(w io.Writer, delay int) *gifWriter { return &gifWriter{w: w, delay: delay} }

func bin(r, g, b uint8) int { return int(r>>3)<<10 | int(g>>3)<<5 | int(b>>3) }

// fit chooses the palette from img and fills the lookup table.
func (g *gifWriter) fit(img *image.RGBA) {
	var count [1 << 15]int
	var sum [1 << 15][3]int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):]
		for x := 0; x < b.Dx(); x++ {
			r, gg, bb := row[4*x], row[4*x+1], row[4*x+2]
			k := bin(r, gg, bb)
			count[k]++
			sum[k][0] += int(r)
			sum[k][1] += int(gg)
			sum[k][2] += int(bb)
		}
	}
	var used []int
	for k, n := range count {
		if n > 0 {
			used = append(used, k)
		}
	}
	sort.SliceStable(used, func(i, j int) bool { return count[used[i]] > count[used[j]] })
	if len(used) > 256 {
		used = used[:256]
	}
	g.palette = make(color.Palette, len(used), 256)
	cols := make([][3]int, len(used))
	for i, k := range used {
		n := count[k]
		cols[i] = [3]int{(sum[k][0] + n/2) / n, (sum[k][1] + n/2) / n, (sum[k][2] + n/2) / n}
		g.palette[i] = color.RGBA{uint8(cols[i][0]), uint8(cols[i][1]), uint8(cols[i][2]), 255}
	}
	// Black and white for the overlay's text, if the frame lacks them.
	for _, c := range [][3]int{{0, 0, 0}, {255, 255, 255}} {
		if len(g.palette) < 256 && count[bin(uint8(c[0]), uint8(c[1]), uint8(c[2]))] == 0 {
			cols = append(cols, c)
			g.palette = append(g.palette, color.RGBA{uint8(c[0]), uint8(c[1]), uint8(c[2]), 255})
		}
	}
	g.lut = make([]uint8, 1<<15)
	for k := range g.lut {
		r, gg, bb := (k>>10)<<3|4, (k>>5&31)<<3|4, (k&31)<<3|4
		best, bestD := 0, 1<<30
		for i, c := range cols {
			dr, dg, db := r-c[0], gg-c[1], bb-c[2]
			if d := 3*dr*dr + 4*dg*dg + 2*db*db; d < bestD {
				best, bestD = i, d
			}
		}
		g.lut[k] = uint8(best)
	}
	for i, k := range used { // a bin's own colour is exact
		g.lut[k] = uint8(i)
	}
	g.pal = image.NewPaletted(b.Sub(b.Min), g.palette)
}

// Frame appends img; every frame must have the first one's size.
func (g *gifWriter) Frame(img *image.RGBA) error {
	b := img.Bounds()
	if b.Dx() >= 1<<16 || b.Dy() >= 1<<16 {
		return fmt.Errorf("gif: frame %d×%d is too large", b.Dx(), b.Dy())
	}
	if g.pal == nil {
		g.fit(img)
	} else if b.Size() != g.pal.Rect.Size() {
		return fmt.Errorf("gif: frame %d is %v, the first was %v", g.frames, b.Size(), g.pal.Rect.Size())
	}
	for y := 0; y < b.Dy(); y++ {
		src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		dst := g.pal.Pix[y*g.pal.Stride:]
		for x := 0; x < b.Dx(); x++ {
			dst[x] = g.lut[bin(src[4*x], src[4*x+1], src[4*x+2])]
		}
	}
	g.buf.Reset()
	err := gif.EncodeAll(&g.buf, &gif.GIF{Image: []*image.Paletted{g.pal}, Delay: []int{g.delay},
		Config: image.Config{ColorModel: g.palette, Width: b.Dx(), Height: b.Dy()}})
	if err != nil {
		return fmt.Errorf("gif: frame %d: %w", g.frames, err)
	}
	out := g.buf.Bytes()
	// "GIF89a", the logical screen descriptor (7 bytes, whose flags give
	// the global colour table's size), the table, then the frame's blocks
	// and the trailer (0x3B).
	if len(out) < 14 || out[10]&0x80 == 0 || out[len(out)-1] != 0x3B {
		return errors.New("gif: unexpected encoding from image/gif")
	}
	header := 13 + 3<<(out[10]&7+1)
	if !g.headerOK {
		if _, err := g.w.Write(out[:header]); err != nil {
			return err
		}
		// Loop forever (the NETSCAPE2.0 application extension).
		if _, err := g.w.Write([]byte("\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")); err != nil {
			return err
		}
		g.headerOK = true
	}
	if _, err := g.w.Write(out[header : len(out)-1]); err != nil {
		return err
	}
	g.frames++
	return nil
}

// Close writes the trailer.
func (g *gifWriter) Close() error {
	if !g.headerOK {
		return errors.New("gif: no frames")
	}
	_, err := g.w.Write([]byte{0x3B})
	return err
}
