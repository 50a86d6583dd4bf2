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

// DosePoint is one variant refined at one dose: its row (final evaluation
// over seeds) and the hit rate the table measured.
type DosePoint struct {
	Variant string  // the variant's own name (its style), e.g. "ultra-ra"
	Target  float64 // the target hit rate the radius was calibrated to
	// HitRate is the share of the refinement's lookups that matched,
	// averaged over seeds (Row.Dose); the x of the point.
	HitRate float64
	Row     Row
}

// minDoseHitRate is where a point with no hit at all is drawn on the log
// axis (and said so in the legend).
const minDoseHitRate = 1e-5

// PlotDose draws the dose–response figure: for each variant, its IQM final
// evaluation (with its 95% interval) against the hit rate measured during
// refinement, on a log axis, a line joining its doses; the IQM intervals
// of the bands (ppo, placebo) are shaded across the plot. Points are drawn
// in the variants' fixed styles. It writes PNG and SVG like PlotEval.
func PlotDose(points []DosePoint, bands []Row, title, pngPath, svgPath string) error {
	if len(points) == 0 {
		return errNoRuns
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "table hit rate in refinement (log scale)"
	p.Y.Label.Text = "final evaluation return (IQM, 95% CI)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentTicks{}
	p.Y.Tick.Marker = compactTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = color.Gray{0xe8}, color.Gray{0xe0}
	p.Add(grid)
	leg := newLegend()
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	floored := false
	byVariant := map[string][]DosePoint{}
	var order []string
	for _, pt := range points {
		if math.IsNaN(pt.HitRate) || pt.HitRate < 0 {
			return fmt.Errorf("report: %s at target %g has no measured hit rate", pt.Variant, pt.Target)
		}
		if pt.HitRate < minDoseHitRate {
			pt.HitRate, floored = minDoseHitRate, true
		}
		if byVariant[pt.Variant] == nil {
			order = append(order, pt.Variant)
		}
		byVariant[pt.Variant] = append(byVariant[pt.Variant], pt)
		xmin, xmax = math.Min(xmin, pt.HitRate), math.Max(xmax, pt.HitRate)
		for _, y := range []float64{pt.Row.IQM, pt.Row.IQMLow, pt.Row.IQMHigh} {
			if !math.IsNaN(y) {
				ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
			}
		}
	}
	if xmin == xmax {
		xmin, xmax = xmin/2, xmax*2
	}
	p.X.Min, p.X.Max = xmin/1.5, xmax*1.5
	for _, r := range bands {
		st := styleOf(r.Variant)
		mid, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: r.IQM}, {X: p.X.Max, Y: r.IQM}})
		if err != nil {
			return err
		}
		mid.Color, mid.Width, mid.Dashes = st.color, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(mid)
		ymin, ymax = math.Min(ymin, r.IQM), math.Max(ymax, r.IQM)
		if math.IsNaN(r.IQMLow) {
			leg.Add(fmt.Sprintf("%s IQM (%d seeds, no CI)", r.Variant, r.Seeds), mid)
			continue
		}
		band, err := referenceBand(p, r.Variant, r.IQMLow, r.IQMHigh)
		if err != nil {
			return err
		}
		p.Add(band)
		leg.Add(fmt.Sprintf("%s (%d seeds)", r.Variant, r.Seeds), mid, band)
		ymin, ymax = math.Min(ymin, r.IQMLow), math.Max(ymax, r.IQMHigh)
	}
	for _, v := range order {
		pts := byVariant[v]
		sort.Slice(pts, func(i, j int) bool { return pts[i].HitRate < pts[j].HitRate })
		st := styleOf(v)
		xy := make(plotter.XYs, len(pts))
		for i, pt := range pts {
			xy[i] = plotter.XY{X: pt.HitRate, Y: pt.Row.IQM}
			if !math.IsNaN(pt.Row.IQMLow) {
				ci, err := plotter.NewLine(plotter.XYs{{X: pt.HitRate, Y: pt.Row.IQMLow}, {X: pt.HitRate, Y: pt.Row.IQMHigh}})
				if err != nil {
					return err
				}
				ci.Color, ci.Width = st.color, vg.Points(1.5)
				p.Add(ci)
			}
		}
		line, sc, err := plotter.NewLinePoints(xy)
		if err != nil {
			return err
		}
		line.Color, line.Width, line.Dashes = st.color, vg.Points(1.5), st.dashes
		sc.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(4), Shape: st.glyph}
		p.Add(line, sc)
		seeds := pts[0].Row.Seeds
		leg.Add(fmt.Sprintf("%s (%d seeds)", v, seeds), line, sc)
	}
	if ymin == ymax {
		ymin, ymax = ymin-1, ymax+1
	}
	pad := 0.05 * (ymax - ymin)
	p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
	leg.Add("point: IQM; bar: 95% CI")
	leg.Add("bands: IQM, 95% CI")
	if floored {
		leg.Add(fmt.Sprintf("no hits: drawn at %g%%", 100*minDoseHitRate))
	}
	return figure(p, leg, pngPath, svgPath)
}

// percentTicks marks a log axis of shares at 1, 2 and 5 per decade, as
// percentages.
type percentTicks struct{}

func (percentTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < min || v > max {
				continue
			}
			out = append(out, plot.Tick{Value: v, Label: trimFloat(100*v) + "%"})
		}
	}
	return out
}
