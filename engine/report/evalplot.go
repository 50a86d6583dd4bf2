package report

import (
	"fmt"
	"image/color"
	"math"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"
)

// PlotEval draws what the table is computed from: for every variant (in
// rows' order) each seed's final-evaluation value as a point (a jittered
// strip), and its IQM as a bar with its 95% interval; the intervals of ppo
// and of the placebo are shaded across the whole plot as references. It
// writes the figure as PNG and SVG like PlotCurves.
func PlotEval(rows []Row, title, pngPath, svgPath string) error {
	if len(rows) == 0 {
		return errNoRuns
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "final evaluation return per seed"
	p.Y.Tick.Marker = compactTicks{}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Variant
	}
	p.X.Tick.Marker = categoryTicks(names)
	p.X.Min, p.X.Max = -0.6, float64(len(rows))-0.4
	// Names that would run into each other are slanted, ending at their
	// column.
	width := 0
	for _, n := range names {
		width = max(width, utf8.RuneCountInString(n))
	}
	if width*len(names) > 90 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Transparent
	grid.Horizontal.Color = color.Gray{0xe0}
	p.Add(grid)
	leg := newLegend()

	// Reference bands first, under everything.
	for _, r := range rows {
		if !Banded(r) {
			continue
		}
		band, err := referenceBand(p, r.Variant, r.IQMLow, r.IQMHigh)
		if err != nil {
			return err
		}
		p.Add(band)
		leg.Add(r.Variant+" IQM 95% CI", band)
	}
	var ymin, ymax = math.Inf(1), math.Inf(-1)
	for i, r := range rows {
		sc, n, err := addStrip(p, float64(i), r.Variant, r.PerSeed, r.IQM, r.IQMLow, r.IQMHigh, stripLook{jitter: 0.18, radius: 3, half: 0.32}, &ymin, &ymax)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("report: variant %q has no finite evaluation", r.Variant)
		}
		leg.Add(fmt.Sprintf("%s (%d seed%s)", r.Variant, r.Seeds, plural(r.Seeds)), sc)
	}
	if ymin == ymax {
		ymin, ymax = ymin-1, ymax+1
	}
	pad := 0.05 * (ymax - ymin)
	p.Y.Min, p.Y.Max = math.Min(p.Y.Min, ymin-pad), math.Max(p.Y.Max, ymax+pad)
	leg.Add("point: one seed")
	leg.Add("bar: IQM; line: its 95% CI")
	return figure(p, leg, pngPath, svgPath)
}

// categoryTicks labels the integer positions 0..n-1 with names.
type categoryTicks []string

func (c categoryTicks) Ticks(min, max float64) []plot.Tick {
	out := make([]plot.Tick, len(c))
	for i, n := range c {
		out[i] = plot.Tick{Value: float64(i), Label: n}
	}
	return out
}

// Banded reports whether PlotEval shades r's IQM interval behind every
// variant: the references ppo and placebo do, when they have an interval.
func Banded(r Row) bool {
	return (r.Variant == "ppo" || r.Variant == "placebo") && !math.IsNaN(r.IQMLow)
}
