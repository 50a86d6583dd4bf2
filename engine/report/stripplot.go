package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Strip is one column of a strip plot: its values, and an estimate with a
// 95% interval drawn over them (Lo and Hi NaN: no interval).
type Strip struct {
	Name           string
	Values         []float64
	Mean, Lo, Hi   float64
	What, Estimate string // legend words: what a point is, what the bar is
}

// PlotStrips draws each strip's values as jittered points in a column of
// its own, its estimate as a bar and the interval as a line, with a dashed
// line at 0 (the distribution of differences, such as the judge's per
// advisor). It writes the figure as PNG and SVG like PlotCurves.
func PlotStrips(strips []Strip, title, ylabel, pngPath, svgPath string) error {
	if len(strips) == 0 {
		return errors.New("report: nothing to plot")
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Tick.Marker = compactTicks{}
	names := make([]string, len(strips))
	for i, s := range strips {
		names[i] = s.Name
	}
	p.X.Tick.Marker = categoryTicks(names)
	p.X.Min, p.X.Max = -0.6, float64(len(strips))-0.4
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Transparent
	grid.Horizontal.Color = color.Gray{0xe0}
	p.Add(grid)
	zero, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: 0}, {X: p.X.Max, Y: 0}})
	if err != nil {
		return err
	}
	zero.Color, zero.Dashes = color.Gray{0x80}, []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(zero)
	leg := newLegend()
	ymin, ymax := 0.0, 0.0
	for i, s := range strips {
		sc, n, err := addStrip(p, float64(i), s.Name, s.Values, s.Mean, s.Lo, s.Hi, stripLook{jitter: 0.3, radius: 2, half: 0.4}, &ymin, &ymax)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("report: strip %q has no finite value", s.Name)
		}
		leg.Add(fmt.Sprintf("%s (%d)", s.Name, n), sc)
	}
	if ymin == ymax {
		ymin, ymax = ymin-1, ymax+1
	}
	pad := 0.05 * (ymax - ymin)
	p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
	if w := strips[0].What; w != "" {
		leg.Add("point: " + w)
	}
	if e := strips[0].Estimate; e != "" {
		leg.Add("bar: " + e + "; line: its 95% CI")
	}
	return figure(p, leg, pngPath, svgPath)
}

// stripLook sizes a strip: the points' horizontal jitter and radius (in
// points), and the half-width of the estimate's bar.
type stripLook struct {
	jitter float64
	radius float64
	half   float64
}

// addStrip draws one column of a strip plot at x: the finite values as
// jittered points in name's style, the estimate as a bar, and [lo, hi] as
// a line unless lo is NaN. It widens [*ymin, *ymax] to the values and
// returns the points (for the legend) and how many were finite; with none
// it draws nothing.
func addStrip(p *plot.Plot, x float64, name string, values []float64, est, lo, hi float64, look stripLook, ymin, ymax *float64) (*plotter.Scatter, int, error) {
	st := styleOf(name)
	pts := make(plotter.XYs, 0, len(values))
	for j, y := range values {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		pts = append(pts, plotter.XY{X: x + jitter(j+1, look.jitter), Y: y})
		*ymin, *ymax = math.Min(*ymin, y), math.Max(*ymax, y)
	}
	if len(pts) == 0 {
		return nil, 0, nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, 0, err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(look.radius), Shape: st.glyph}
	p.Add(sc)
	bar, err := plotter.NewLine(plotter.XYs{{X: x - look.half, Y: est}, {X: x + look.half, Y: est}})
	if err != nil {
		return nil, 0, err
	}
	bar.Color, bar.Width = st.color, vg.Points(2.5)
	p.Add(bar)
	if !math.IsNaN(lo) {
		ci, err := plotter.NewLine(plotter.XYs{{X: x, Y: lo}, {X: x, Y: hi}})
		if err != nil {
			return nil, 0, err
		}
		ci.Color, ci.Width = st.color, vg.Points(1.5)
		p.Add(ci)
	}
	return sc, len(pts), nil
}
