package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// gridPoints is the resolution of the resampled learning curves.
const gridPoints = 100

// bandAlpha is the opacity of the min-max band.
const bandAlpha = 0x40

// PlotCurves draws the training curves of runs, one line per variant in
// the order variants first appear, and writes the figure (8x5 in) as a
// PNG at 150 dpi to pngPath and as an SVG to svgPath; an empty path skips
// that format.
//
// Each seed's curve is interpolated linearly onto a grid of 100 evenly
// spaced steps spanning the range that all seeds of the variant cover
// (from the latest first step to the earliest last step). The line is the
// mean over seeds at each grid step; the translucent band spans the
// minimum to the maximum over seeds (drawn only with two or more seeds).
// It returns an error if a run has no finite curve points or a variant's
// seeds' curves do not overlap.
func PlotCurves(runs []Run, title, pngPath, svgPath string) error {
	if len(runs) == 0 {
		return errNoRuns
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "env steps"
	p.Y.Label.Text = "training return (mean of last 10 episodes)"
	p.X.Tick.Marker = compactTicks{}
	p.Y.Tick.Marker = compactTicks{}
	leg := newLegend()
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{0xe0}
	grid.Horizontal.Color = color.Gray{0xe0}
	p.Add(grid)

	order, by := groupRuns(runs)
	var bands, lines []plot.Plotter
	anyBand := false
	for _, v := range order {
		steps, mean, lo, hi, err := variantCurve(by[v])
		if err != nil {
			return fmt.Errorf("report: variant %q: %w", v, err)
		}
		st := styleOf(v)
		c := st.color
		line, err := plotter.NewLine(xys(steps, mean))
		if err != nil {
			return err
		}
		line.Color = c
		line.Width = vg.Points(1.5)
		line.Dashes = st.dashes
		thumbs := []plot.Thumbnailer{line}
		lines = append(lines, line)
		if len(steps) == 1 { // a single grid point draws no line segment
			sc, err := plotter.NewScatter(xys(steps, mean))
			if err != nil {
				return err
			}
			sc.Color = c
			lines = append(lines, sc)
		}
		if len(by[v]) > 1 {
			band, err := bandPolygon(steps, lo, hi, c)
			if err != nil {
				return err
			}
			bands = append(bands, band)
			thumbs = append([]plot.Thumbnailer{band}, thumbs...)
			anyBand = true
		}
		leg.Add(fmt.Sprintf("%s (%d seed%s)", v, len(by[v]), plural(len(by[v]))), thumbs...)
	}
	p.Add(bands...) // bands under all lines
	p.Add(lines...)
	if anyBand {
		leg.Add("line: mean over seeds")
		leg.Add("band: min–max")
	}
	return figure(p, leg, pngPath, svgPath)
}

// variantCurve resamples the curves of one variant's runs onto a shared
// step grid and returns the grid and the mean, min and max over runs.
func variantCurve(runs []Run) (steps, mean, lo, hi []float64, err error) {
	curves := make([][]Point, len(runs))
	first, last := math.Inf(-1), math.Inf(1)
	for i, r := range runs {
		c := cleanCurve(r.Curve)
		if len(c) == 0 {
			return nil, nil, nil, nil, fmt.Errorf("seed %d has no curve points", r.Seed)
		}
		curves[i] = c
		first = math.Max(first, float64(c[0].Step))
		last = math.Min(last, float64(c[len(c)-1].Step))
	}
	if first > last {
		return nil, nil, nil, nil, fmt.Errorf("seeds' curves share no step range")
	}
	n := gridPoints
	if first == last {
		n = 1
	}
	steps = make([]float64, n)
	mean = make([]float64, n)
	lo = make([]float64, n)
	hi = make([]float64, n)
	for j := range steps {
		x := first
		if n > 1 {
			x = first + (last-first)*float64(j)/float64(n-1)
		}
		steps[j] = x
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
		for _, c := range curves {
			y := interp(c, x)
			mean[j] += y
			lo[j] = math.Min(lo[j], y)
			hi[j] = math.Max(hi[j], y)
		}
		mean[j] /= float64(len(curves))
	}
	return steps, mean, lo, hi, nil
}

// cleanCurve returns the finite points of c sorted by step.
func cleanCurve(c []Point) []Point {
	out := make([]Point, 0, len(c))
	for _, p := range c {
		if !math.IsNaN(p.Return) && !math.IsInf(p.Return, 0) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out
}

// interp evaluates the piecewise-linear curve c (sorted by step) at x,
// which lies within its step range.
func interp(c []Point, x float64) float64 {
	i := sort.Search(len(c), func(i int) bool { return float64(c[i].Step) >= x })
	if i == len(c) {
		return c[len(c)-1].Return
	}
	if i == 0 || float64(c[i].Step) == x {
		return c[i].Return
	}
	x0, x1 := float64(c[i-1].Step), float64(c[i].Step)
	y0, y1 := c[i-1].Return, c[i].Return
	return y0 + (y1-y0)*(x-x0)/(x1-x0)
}

func bandPolygon(steps, lo, hi []float64, c color.NRGBA) (*plotter.Polygon, error) {
	ring := make(plotter.XYs, 0, 2*len(steps))
	for j := range steps {
		ring = append(ring, plotter.XY{X: steps[j], Y: hi[j]})
	}
	for j := len(steps) - 1; j >= 0; j-- {
		ring = append(ring, plotter.XY{X: steps[j], Y: lo[j]})
	}
	poly, err := plotter.NewPolygon(ring)
	if err != nil {
		return nil, err
	}
	c.A = bandAlpha
	poly.Color = c
	poly.LineStyle.Width = 0
	poly.LineStyle.Color = color.Transparent
	return poly, nil
}

func xys(x, y []float64) plotter.XYs {
	pts := make(plotter.XYs, len(x))
	for i := range x {
		pts[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	return pts
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func writeFile(path string, w io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func compact(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimFloat(v/1e9) + "G"
	case a >= 1e6:
		return trimFloat(v/1e6) + "M"
	case a >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

func trimFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
