package report

import (
	"fmt"
	"hash/fnv"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Every figure draws a variant in the same colour, dash pattern and marker,
// so that a reader matches them across figures. The colours are Okabe and
// Ito's colour-blind-safe palette (with grey and brown for the last two);
// the dashes and markers keep the variants apart in grayscale. ultra-ra+rice
// takes Tol's wine.
var variantStyles = map[string]style{
	"ppo":        {color.NRGBA{0x00, 0x00, 0x00, 0xff}, nil, draw.CircleGlyph{}},
	"ultra-a":    {color.NRGBA{0x56, 0xb4, 0xe9, 0xff}, []vg.Length{vg.Points(6), vg.Points(2)}, draw.TriangleGlyph{}},
	"ultra-r":    {color.NRGBA{0x00, 0x9e, 0x73, 0xff}, []vg.Length{vg.Points(2), vg.Points(2)}, draw.SquareGlyph{}},
	"ultra-ra":   {color.NRGBA{0xd5, 0x5e, 0x00, 0xff}, nil, draw.PyramidGlyph{}},
	"random":     {color.NRGBA{0xe6, 0x9f, 0x00, 0xff}, []vg.Length{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}, draw.BoxGlyph{}},
	"random-all": {color.NRGBA{0xf0, 0xe4, 0x42, 0xff}, []vg.Length{vg.Points(1), vg.Points(3)}, draw.RingGlyph{}},
	"rice":       {color.NRGBA{0x00, 0x72, 0xb2, 0xff}, []vg.Length{vg.Points(10), vg.Points(4)}, draw.CrossGlyph{}},
	"llm-rnd":    {color.NRGBA{0xcc, 0x79, 0xa7, 0xff}, []vg.Length{vg.Points(4), vg.Points(2), vg.Points(1), vg.Points(2)}, draw.PlusGlyph{}},
	"rnd":        {color.NRGBA{0x99, 0x99, 0x99, 0xff}, []vg.Length{vg.Points(3), vg.Points(3)}, draw.CircleGlyph{}},
	"placebo":    {color.NRGBA{0x8c, 0x56, 0x4b, 0xff}, []vg.Length{vg.Points(1), vg.Points(1)}, draw.TriangleGlyph{}},
	// ultra-ra's glyph (it is ultra-ra plus restarts) in Tol's wine, which
	// the palette above lacks, dash-dotted.
	"ultra-ra+rice": {color.NRGBA{0x88, 0x22, 0x55, 0xff}, []vg.Length{vg.Points(6), vg.Points(2), vg.Points(2), vg.Points(2)}, draw.PyramidGlyph{}},
	// The imitation variants in Tol's indigo (ultra-i) and teal (ultra-ia).
	"ultra-i":  {color.NRGBA{0x33, 0x22, 0x88, 0xff}, []vg.Length{vg.Points(5), vg.Points(2), vg.Points(1), vg.Points(2)}, draw.SquareGlyph{}},
	"ultra-ia": {color.NRGBA{0x44, 0xaa, 0x99, 0xff}, []vg.Length{vg.Points(7), vg.Points(3)}, draw.PyramidGlyph{}},
}

// style is how one variant is drawn.
type style struct {
	color  color.NRGBA
	dashes []vg.Length
	glyph  draw.GlyphDrawer
}

// styleOf returns v's style; a variant outside the table gets a stable one
// derived from its name.
func styleOf(v string) style {
	if s, ok := variantStyles[v]; ok {
		return s
	}
	h := fnv.New32a()
	h.Write([]byte(v))
	k := h.Sum32()
	return style{color.NRGBA{uint8(k), uint8(k >> 8), uint8(k >> 16), 0xff}, []vg.Length{vg.Points(5), vg.Points(5)}, draw.RingGlyph{}}
}

// Figure geometry: 8×5 inches, PNG at 150 dpi (1200×750); the legend gets
// a column of its own on the right, so it covers neither the title nor the
// data.
const (
	plotWidth   = 8 * vg.Inch
	plotHeight  = 5 * vg.Inch
	legendWidth = 2.1 * vg.Inch
	plotDPI     = 150
)

// figure writes p with its legend beside it as PNG and SVG (an empty path
// skips that format).
func figure(p *plot.Plot, leg plot.Legend, pngPath, svgPath string) error {
	return render(plotWidth, plotHeight, func(dc draw.Canvas) {
		p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
		leg.Draw(draw.Crop(dc, plotWidth-legendWidth, 0, 0, 0))
	}, pngPath, svgPath)
}

// render draws a w×h figure with paint as PNG (at plotDPI) and SVG; an
// empty path skips that format. A panic of the plotting library (values it
// cannot lay out) is an error naming the figure, never a crash of the run
// that reports.
func render(w, h vg.Length, paint func(draw.Canvas), pngPath, svgPath string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("report: cannot draw %s (%v): the values are beyond what a figure can show", strings.TrimSpace(pngPath+" "+svgPath), r)
		}
	}()
	if pngPath != "" {
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI))
		paint(draw.New(c))
		if err := writeFile(pngPath, vgimg.PngCanvas{Canvas: c}); err != nil {
			return err
		}
	}
	if svgPath != "" {
		c := vgsvg.New(w, h)
		paint(draw.New(c))
		if err := writeFile(svgPath, c); err != nil {
			return err
		}
	}
	return nil
}

// newLegend is a legend for the column beside a figure: top left, small.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = vg.Points(9)
	l.ThumbnailWidth = vg.Points(22)
	l.Padding = vg.Points(2.5) // between entries, so that neighbouring lines do not touch
	return l
}

// compactTicks labels the major ticks compactly (1.25k, 250k, 1.5M) and
// drops the unlabelled minor ones.
type compactTicks struct{}

func (compactTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		// One value (every seed equal) or a range past the floats: a
		// single labelled tick, where gonum's ticker would panic.
		return []plot.Tick{{Value: min, Label: compact(min)}}
	}
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(min, max) {
		if t.Label != "" {
			t.Label = compact(t.Value)
			out = append(out, t)
		}
	}
	return out
}

// jitter is a deterministic offset in [-w, w] for point i of a strip.
func jitter(i int, w float64) float64 {
	// The golden-ratio sequence spreads points evenly without a generator.
	f := math.Mod(float64(i)*0.6180339887498949, 1)
	return (2*f - 1) * w
}

// referenceBand is a translucent band of variant v's colour across the
// plot's x range, from lo to hi: a reference interval drawn under the data.
func referenceBand(p *plot.Plot, v string, lo, hi float64) (*plotter.Polygon, error) {
	c := styleOf(v).color
	c.A = 0x30
	band, err := plotter.NewPolygon(plotter.XYs{{X: p.X.Min, Y: lo}, {X: p.X.Max, Y: lo}, {X: p.X.Max, Y: hi}, {X: p.X.Min, Y: hi}})
	if err != nil {
		return nil, err
	}
	band.Color, band.LineStyle.Width = c, 0
	return band, nil
}
