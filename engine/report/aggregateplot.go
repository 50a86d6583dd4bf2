package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotAggregate draws the aggregate's three estimates side by side, one
// row per variant: the IQM and the mean of the normalised scores (1 is the
// baseline's mean, 0 the random policy's) and the probability of
// improvement over the baseline (0.5 is no difference). Each estimate is
// a tick inside a shaded bar spanning its 95% interval, as rliable draws
// them.
func PlotAggregate(a *Aggregate, pngPath, svgPath string) error {
	if len(a.Rows) == 0 {
		return errNoRuns
	}
	type panel struct {
		title string
		ref   float64
		get   func(r AggregateRow) (v, lo, hi float64)
	}
	panels := []panel{
		{"IQM (normalised)", 1, func(r AggregateRow) (float64, float64, float64) { return r.IQM, r.IQMLow, r.IQMHigh }},
		{"mean (normalised)", 1, func(r AggregateRow) (float64, float64, float64) { return r.Mean, r.MeanLow, r.MeanHigh }},
		{"P(improvement over " + a.Baseline + ")", 0.5, func(r AggregateRow) (float64, float64, float64) {
			return r.PImprove, r.PImproveLow, r.PImproveHigh
		}},
	}
	n := len(a.Rows)
	names := make([]string, n)
	for i, r := range a.Rows {
		names[n-1-i] = r.Variant // first row on top
	}
	row := make([]*plot.Plot, len(panels))
	for k, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Tick.Marker = compactTicks{}
		p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
		if k == 0 {
			p.Y.Tick.Marker = categoryTicks(names)
		} else {
			p.Y.Tick.Marker = plot.ConstantTicks(nil)
		}
		xmin, xmax := pn.ref, pn.ref
		for i, r := range a.Rows {
			v, lo, hi := pn.get(r)
			if math.IsNaN(v) {
				continue
			}
			y := float64(n - 1 - i)
			c := styleOf(r.Variant).color
			if math.IsNaN(lo) { // too few seeds for an interval: the estimate alone
				lo, hi = v, v
			}
			bar, err := plotter.NewPolygon(plotter.XYs{{X: lo, Y: y - 0.3}, {X: hi, Y: y - 0.3}, {X: hi, Y: y + 0.3}, {X: lo, Y: y + 0.3}})
			if err != nil {
				return err
			}
			fill := c
			fill.A = 0x70
			bar.Color, bar.LineStyle.Width = fill, 0
			tick, err := plotter.NewLine(plotter.XYs{{X: v, Y: y - 0.3}, {X: v, Y: y + 0.3}})
			if err != nil {
				return err
			}
			tick.Color, tick.Width = c, vg.Points(2.5)
			p.Add(bar, tick)
			xmin, xmax = math.Min(xmin, lo), math.Max(xmax, hi)
		}
		ref, err := plotter.NewLine(plotter.XYs{{X: pn.ref, Y: p.Y.Min}, {X: pn.ref, Y: p.Y.Max}})
		if err != nil {
			return err
		}
		ref.Color, ref.Dashes = color.Gray{0x80}, []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(ref)
		pad := 0.05 * (xmax - xmin)
		p.X.Min, p.X.Max = xmin-pad, xmax+pad
		row[k] = p
	}
	w, h := 11*vg.Inch, vg.Length(n)*0.42*vg.Inch+1.3*vg.Inch
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Points(12), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10)}
	return render(w, h, func(dc draw.Canvas) {
		cs := plot.Align([][]*plot.Plot{row}, tiles, dc)
		for k, p := range row {
			p.Draw(cs[0][k])
		}
	}, pngPath, svgPath)
}

// PlotProfile draws a performance profile: for each variant the fraction
// of runs (tasks weighted equally) whose normalised score exceeds τ.
func PlotProfile(pr Profile, order []string, title, pngPath, svgPath string) error {
	if len(pr.Tau) == 0 {
		return errNoRuns
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "normalised score τ (0: random policy, 1: ppo's mean)"
	p.Y.Label.Text = "fraction of runs with score > τ"
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Tick.Marker, p.Y.Tick.Marker = compactTicks{}, compactTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = color.Gray{0xe8}, color.Gray{0xe8}
	p.Add(grid)
	leg := newLegend()
	if order == nil {
		for v := range pr.Fraction {
			order = append(order, v)
		}
		sort.Strings(order)
	}
	for _, v := range order {
		f, ok := pr.Fraction[v]
		if !ok {
			continue
		}
		l, err := plotter.NewLine(xys(pr.Tau, f))
		if err != nil {
			return err
		}
		st := styleOf(v)
		l.Color, l.Dashes, l.Width = st.color, st.dashes, vg.Points(1.8)
		p.Add(l)
		leg.Add(v, l)
	}
	return figure(p, leg, pngPath, svgPath)
}

// aggregateHeaders are the columns of the aggregate's Markdown and HTML
// tables (before one column per task).
var aggregateHeaders = []string{"variant", "runs", "IQM [95% CI]", "mean [95% CI]", "P(improve) [95% CI]"}

// aggregateCells are one row's texts: the summary columns, then the IQM
// on each task.
func aggregateCells(r AggregateRow) []string {
	pi := est(r.PImprove, r.PImproveLow, r.PImproveHigh)
	if r.TooFew { // PImprove is NaN then
		pi = TooFewText
	}
	c := []string{r.Variant, fmt.Sprint(r.Runs), est(r.IQM, r.IQMLow, r.IQMHigh), est(r.Mean, r.MeanLow, r.MeanHigh), pi}
	for _, x := range r.PerTask {
		c = append(c, fmt.Sprintf("%.2f", x))
	}
	return c
}

// est is an estimate with its interval; without one (too few seeds) the
// estimate alone.
func est(v, lo, hi float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.IsNaN(lo) || math.IsNaN(hi):
		return num(v)
	}
	return num(v) + " " + interval(lo, hi)
}
