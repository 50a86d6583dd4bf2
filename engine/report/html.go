package report

import (
	"html/template"
	"io"
)

type htmlRow struct {
	Cells       []string
	PerSeed     string
	Significant bool
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
<thead><tr>{{range .Headers}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{$sig := .Significant}}{{range $i, $c := .Cells}}{{if eq $i 0}}<td>{{$c}}</td>{{else}}<td class="num{{if and $sig (eq $i 4)}} sig{{end}}">{{$c}}</td>{{end}}{{end}}</tr>
{{- end}}
</tbody>
</table>
<p>Per-seed mean evaluation return, in seed order:</p>
<ul>
{{- range .Rows}}
<li>{{index .Cells 0}}: {{.PerSeed}}</li>
{{- end}}
</ul>
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
// the summary table (the columns of WriteMarkdown), the per-seed values,
// notes, and an <img> for each of images, which are file names relative to
// the page. All text is HTML-escaped; significant differences are bold.
func WriteHTML(w io.Writer, title string, rows []Row, notes []string, images []string) error {
	data := struct {
		Title         string
		Headers       []string
		Rows          []htmlRow
		Notes, Images []string
	}{Title: title, Headers: headers, Notes: notes, Images: images}
	for _, r := range rows {
		c := rowCells(r)
		data.Rows = append(data.Rows, htmlRow{Cells: c.list(), PerSeed: perSeed(r.PerSeed), Significant: c.Significant})
	}
	return page.Execute(w, data)
}
