package report

import (
	"html/template"
	"io"
)

type htmlRow struct {
	Variant, MeanStd, CI, Delta string
	Seeds                       int
	Significant                 bool
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.sig { font-weight: bold; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<table>
<thead><tr><th>variant</th><th>seeds</th><th>mean ± std</th><th>95% CI</th><th>Δ vs baseline (95% CI)</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td>{{.Variant}}</td><td class="num">{{.Seeds}}</td><td class="num">{{.MeanStd}}</td><td class="num">{{.CI}}</td><td class="num{{if .Significant}} sig{{end}}">{{.Delta}}</td></tr>
{{- end}}
</tbody>
</table>
{{- if .Notes}}
<ul>
{{- range .Notes}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- range .Images}}
<figure><img src="{{.}}" alt="{{.}}"></figure>
{{- end}}
</body>
</html>
`))

// WriteHTML writes a self-contained HTML page (no external assets) with
// the summary table, notes, and an <img> for each of images, which are
// file names relative to the page. All text is HTML-escaped; significant
// differences are bold.
func WriteHTML(w io.Writer, title string, rows []Row, notes []string, images []string) error {
	data := struct {
		Title         string
		Rows          []htmlRow
		Notes, Images []string
	}{Title: title, Notes: notes, Images: images}
	for _, r := range rows {
		data.Rows = append(data.Rows, htmlRow{
			Variant: r.Variant, Seeds: r.Seeds, MeanStd: meanStd(r),
			CI: interval(r.CILow, r.CIHigh), Delta: deltaText(r), Significant: r.Significant,
		})
	}
	return page.Execute(w, data)
}
