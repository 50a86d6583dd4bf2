package pong

import (
	"math"
	"math/bits"
)

// Pixel observation geometry.
const (
	Side        = 84                       // resized frame side
	FrameStack  = 4                        // stacked frames
	PixelObsDim = FrameStack * Side * Side // 28224
	Crop        = 80                       // side of the Binary80 crop
)

// Colours of the frame: the NTSC palette entries Pong uses, as RGB.
// Background, paddles and ball as given in public descriptions of ALE Pong
// frames (e.g. Karpathy's "Pong from Pixels" preprocessing erases red 144;
// object detectors match these exact triples); the walls are the ball's
// white; each score is drawn in its player's colour.
var (
	ColorBackground = [3]uint8{144, 72, 17}   // brown/orange playfield and border
	ColorAgent      = [3]uint8{92, 186, 92}   // agent (right) paddle and score
	ColorOpponent   = [3]uint8{213, 130, 74}  // opponent (left) paddle and score
	ColorBall       = [3]uint8{236, 236, 236} // ball and the top/bottom walls
)

// Palette indices, in drawing priority (a higher index wins where two
// objects overlap, as the max over two frames does in grayscale).
const (
	idxBackground = iota
	idxOpponent
	idxAgent
	idxWhite
	nColors
)

var palette = [nColors][3]uint8{ColorBackground, ColorOpponent, ColorAgent, ColorBall}

// Gray is the luma of an RGB colour as the preprocessing computes it:
// round(0.299 R + 0.587 G + 0.114 B) (ITU-R BT.601, as OpenCV's
// RGB2GRAY). Background 87, agent paddle 147, opponent paddle 148, ball and
// walls 236.
func Gray(c [3]uint8) uint8 {
	return uint8(math.Round(0.299*float64(c[0]) + 0.587*float64(c[1]) + 0.114*float64(c[2])))
}

// Score digits: a 3×5 blocky font of our own, each cell 4×4 pixels, so a
// digit is 12×20 pixels at rows 1-20 of the border above the top wall. The
// opponent's score is right-aligned at column 44, the agent's at column 128.
const (
	scoreTop    = 1
	cell        = 4
	digitW      = 3 * cell
	digitGap    = 4
	oppScoreR   = 44  // one past the last column of the opponent's units digit
	agentScoreR = 128 // same for the agent
)

var font = [10][5]uint8{ // rows of 3 bits, MSB = left cell
	{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
	{7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
}

// canvas is a 210×160 frame of one byte per pixel: palette indices or gray
// levels, as lut maps the palette. dirty, where set, collects the output
// columns an object touched, per source row.
type canvas struct {
	px    []uint8
	lut   *[nColors]uint8
	dirty *[ScreenH]colMask
}

// rect max-writes colour c over h×w pixels from (row, col), clipped to
// rows [rowLo, rowHi) and the screen's columns.
func (cv canvas) rect(row, col, h, w int, c int, rowLo, rowHi int) {
	r0, r1 := max(row, rowLo), min(row+h, rowHi)
	c0, c1 := max(col, 0), min(col+w, ScreenW)
	if r0 >= r1 || c0 >= c1 {
		return
	}
	v := cv.lut[c]
	for r := r0; r < r1; r++ {
		line := cv.px[r*ScreenW+c0 : r*ScreenW+c1]
		for i := range line {
			if v > line[i] {
				line[i] = v
			}
		}
		if cv.dirty != nil {
			cv.dirty[r].addRange(outCols[c0][0], outCols[c1-1][1])
		}
	}
}

// draw max-draws a view's objects (the background and walls are already
// there).
func (cv canvas) draw(v view) {
	cv.score(v.oppScore, oppScoreR, idxOpponent)
	cv.score(v.agentScore, agentScoreR, idxAgent)
	cv.rect(pix(v.opponentY), OpponentX, PaddleH, PaddleW, idxOpponent, PlayTop, PlayBottom)
	cv.rect(pix(v.agentY), AgentX, PaddleH, PaddleW, idxAgent, PlayTop, PlayBottom)
	if v.inPlay {
		cv.rect(pix(v.ballY), pix(v.ballX), BallH, BallW, idxWhite, PlayTop, PlayBottom)
	}
}

// score draws n (0-99) right-aligned before column right.
func (cv canvas) score(n, right, c int) {
	n = max(0, min(99, n))
	cv.digit(n%10, right-digitW, c)
	if n >= 10 {
		cv.digit(n/10, right-2*digitW-digitGap, c)
	}
}

// digit draws d with its left edge at column x.
func (cv canvas) digit(d, x, c int) {
	for r, bits := range font[d] {
		for k := 0; k < 3; k++ {
			if bits&(4>>k) != 0 {
				cv.rect(scoreTop+r*cell, x+k*cell, cell, cell, c, 0, WallTop)
			}
		}
	}
}

// pix rounds a coordinate to a pixel.
func pix(v float64) int { return int(math.Floor(v + 0.5)) }

// background fills px with the border, walls and empty playfield.
func background(px []uint8, lut *[nColors]uint8) {
	bg, wall := lut[idxBackground], lut[idxWhite]
	for r := 0; r < ScreenH; r++ {
		v := bg
		if (r >= WallTop && r < PlayTop) || r >= PlayBottom {
			v = wall
		}
		line := px[r*ScreenW : (r+1)*ScreenW]
		for i := range line {
			line[i] = v
		}
	}
}

// Frame renders the game's current frame as 210×160 RGB (row-major, 3
// bytes a pixel) into dst, resized as needed, and returns it. Layout: rows
// 0-23 border with the scores (opponent's left, agent's right), rows 24-33
// the top wall, rows 34-193 the playfield, rows 194-209 the bottom wall;
// the opponent's paddle in columns 16-19, the agent's in 140-143, each 16
// rows tall; the ball 2×4.
func (e *Game) Frame(dst []uint8) []uint8 {
	if cap(dst) < ScreenH*ScreenW*3 {
		dst = make([]uint8, ScreenH*ScreenW*3)
	}
	dst = dst[:ScreenH*ScreenW*3]
	idx := make([]uint8, ScreenH*ScreenW)
	ident := [nColors]uint8{0, 1, 2, 3}
	background(idx, &ident)
	canvas{px: idx, lut: &ident}.draw(e.g.view())
	for i, c := range idx {
		copy(dst[3*i:3*i+3], palette[c][:])
	}
	return dst
}

// Binary80 is the ULTRA paper's (and Karpathy's "Pong from Pixels")
// preprocessing of a 210×160 RGB frame: crop rows 35-194, keep every other
// row and column (rows 35, 37, …, 193; columns 0, 2, …, 158), read the red
// channel, erase the background (red 144, and 109 of ALE's other
// background) and set everything else — paddles and ball — to 1. dst gets
// the 80×80 result, row-major.
func Binary80(frame []uint8, dst []float32) {
	_ = frame[ScreenH*ScreenW*3-1]
	_ = dst[Crop*Crop-1]
	for i := 0; i < Crop; i++ {
		row := 35 + 2*i
		for j := 0; j < Crop; j++ {
			red := frame[(row*ScreenW+2*j)*3]
			v := float32(1)
			if red == 144 || red == 109 {
				v = 0
			}
			dst[i*Crop+j] = v
		}
	}
}

// Resampling: area averaging from 210×160 to 84×84. Each output pixel
// averages the source area it covers (2.5 rows × 160/84 columns), source
// pixels weighted by the fraction they overlap it, as OpenCV's INTER_AREA.
type taps struct {
	start, n int
	w        [4]float32
}

func areaTaps(src, dst int, scale float32) []taps {
	t := make([]taps, dst)
	s := float64(src) / float64(dst)
	for i := range t {
		lo, hi := float64(i)*s, float64(i+1)*s
		t[i].start = int(lo)
		for k := int(lo); float64(k) < hi && k < src; k++ {
			ov := math.Min(hi, float64(k+1)) - math.Max(lo, float64(k))
			if ov <= 1e-12 {
				continue
			}
			if t[i].n == 0 {
				t[i].start = k
			}
			t[i].w[t[i].n] = float32(ov/s) * scale
			t[i].n++
		}
	}
	return t
}

// Shared read-only tables of the pixel pipeline.
var (
	grayLUT = [nColors]uint8{Gray(ColorBackground), Gray(ColorOpponent), Gray(ColorAgent), Gray(ColorBall)}
	rowTaps = areaTaps(ScreenH, Side, 1.0/255)
	colTaps = areaTaps(ScreenW, Side, 1)
	bgGray  = func() []uint8 { px := make([]uint8, ScreenH*ScreenW); background(px, &grayLUT); return px }()
	bgPlane = func() []float32 { // the resized empty frame
		out := make([]float32, Side*Side)
		for i := range out {
			out[i] = resampled(bgGray, i/Side, i%Side)
		}
		return out
	}()
	// outCols[c] holds the first and last output column whose area
	// overlaps source column c.
	outCols = func() (oc [ScreenW][2]int) {
		for c := range oc {
			oc[c] = [2]int{Side, -1}
		}
		for j, t := range colTaps {
			for k := 0; k < t.n; k++ {
				c := t.start + k
				oc[c][0], oc[c][1] = min(oc[c][0], j), max(oc[c][1], j)
			}
		}
		return oc
	}()
)

// resampled is output pixel (i, j) of the area resize of a gray frame,
// scaled to [0, 1].
func resampled(gray []uint8, i, j int) float32 {
	rt, ct := &rowTaps[i], &colTaps[j]
	var s float32
	for k := 0; k < rt.n; k++ {
		line := gray[(rt.start+k)*ScreenW+ct.start:]
		var c float32
		for m := 0; m < ct.n; m++ {
			c += ct.w[m] * float32(line[m])
		}
		s += rt.w[k] * c
	}
	return s
}

// Resize area-resizes a 210×160 grayscale frame (row-major) into dst, the
// Side×Side values in [0, 1] of one stacked plane: the pixel pipeline's
// resize, for frames rendered elsewhere (the ALE binding's screens).
func Resize(gray []uint8, dst []float32) {
	_ = gray[ScreenH*ScreenW-1]
	_ = dst[Side*Side-1]
	for i := 0; i < Side; i++ {
		for j := 0; j < Side; j++ {
			dst[i*Side+j] = resampled(gray, i, j)
		}
	}
}

// colMask is a set of output columns.
type colMask [2]uint64

func (m *colMask) addRange(lo, hi int) { // columns lo..hi inclusive
	for j := lo; j <= hi; j++ {
		m[j>>6] |= 1 << (j & 63)
	}
}

// pixWork is a pixel-mode game's scratch: the gray frame and, per source
// row, the output columns objects touched (the rest of the frame is the
// background, whose resize is bgPlane).
type pixWork struct {
	gray  []uint8
	dirty [ScreenH]colMask
}

// renderPlane renders stack plane c from the views in hist[c]: grayscale,
// max of the two frames, area resize, scaled to [0, 1]. Only output pixels
// whose area an object touched are resampled; the others are bgPlane's.
func (e *Game) renderPlane(c int) {
	w := &e.work
	for r := range w.dirty { // erase the previous render's objects
		if w.dirty[r] != (colMask{}) {
			copy(w.gray[r*ScreenW:(r+1)*ScreenW], bgGray[r*ScreenW:(r+1)*ScreenW])
			w.dirty[r] = colMask{}
		}
	}
	cv := canvas{px: w.gray, lut: &grayLUT, dirty: &w.dirty}
	cv.draw(e.g.hist[c][0])
	cv.draw(e.g.hist[c][1])
	out := e.stack[c]
	copy(out, bgPlane)
	for i := range rowTaps {
		t := &rowTaps[i]
		var m colMask
		for k := 0; k < t.n; k++ {
			d := &w.dirty[t.start+k]
			m[0] |= d[0]
			m[1] |= d[1]
		}
		for h, set := range m {
			for set != 0 {
				j := h<<6 | bits.TrailingZeros64(set)
				set &= set - 1
				out[i*Side+j] = resampled(w.gray, i, j)
			}
		}
	}
}
