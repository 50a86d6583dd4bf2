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
		st := styleOf(s.Name)
		pts := make(plotter.XYs, 0, len(s.Values))
		for j, y := range s.Values {
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(i) + jitter(j+1, 0.3), Y: y})
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
		if len(pts) == 0 {
			return fmt.Errorf("report: strip %q has no finite value", s.Name)
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(2), Shape: st.glyph}
		p.Add(sc)
		bar, err := plotter.NewLine(plotter.XYs{{X: float64(i) - 0.4, Y: s.Mean}, {X: float64(i) + 0.4, Y: s.Mean}})
		if err != nil {
			return err
		}
		bar.Color, bar.Width = st.color, vg.Points(2.5)
		p.Add(bar)
		if !math.IsNaN(s.Lo) {
			ci, err := plotter.NewLine(plotter.XYs{{X: float64(i), Y: s.Lo}, {X: float64(i), Y: s.Hi}})
			if err != nil {
				return err
			}
			ci.Color, ci.Width = st.color, vg.Points(1.5)
			p.Add(ci)
		}
		leg.Add(fmt.Sprintf("%s (%d)", s.Name, len(pts)), sc)
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
