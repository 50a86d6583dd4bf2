package report

import (
	"encoding/base64"
	"html/template"
	"io"
	"os"
)

type htmlRow struct {
	Cells       []string
	PerSeed     string
	Significant bool
}

// Figure is one image of a report page: an SVG or PNG file inlined into the
// page as a data URI, so that the page needs no other file.
type Figure struct {
	Caption string
	Path    string // .svg or .png
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 1em auto; padding: 0 0.8em; max-width: 62em; color: #222; line-height: 1.4; }
h1 { font-size: 1.4em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sig { font-weight: bold; }
figure { margin: 1em 0; }
img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9em; color: #555; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{- range .Figures}}
<figure><img src="{{.Src}}" alt="{{.Caption}}"><figcaption>{{.Caption}}</figcaption></figure>
{{- end}}
<div class="scroll">
<table>
<thead><tr>{{range .Headers}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{$sig := .Significant}}{{range $i, $c := .Cells}}{{if eq $i 0}}<td>{{$c}}</td>{{else}}<td class="num{{if and $sig (eq $i 4)}} sig{{end}}">{{$c}}</td>{{end}}{{end}}</tr>
{{- end}}
</tbody>
</table>
</div>
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
</body>
</html>
`))

// WriteHTML writes a self-contained HTML page (images inlined, no other
// file and no network) readable on a phone's width: the figures in order,
// then the summary table (the columns of WriteMarkdown), the per-seed
// values and the notes. All text is HTML-escaped; significant differences
// are bold.
func WriteHTML(w io.Writer, title string, rows []Row, notes []string, figures []Figure) error {
	type fig struct {
		Caption string
		Src     template.URL
	}
	data := struct {
		Title   string
		Headers []string
		Rows    []htmlRow
		Notes   []string
		Figures []fig
	}{Title: title, Headers: headers, Notes: notes}
	for _, f := range figures {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return err
		}
		mime := "image/png"
		if len(f.Path) > 4 && f.Path[len(f.Path)-4:] == ".svg" {
			mime = "image/svg+xml"
		}
		data.Figures = append(data.Figures, fig{f.Caption, template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b))})
	}
	for _, r := range rows {
		c := rowCells(r)
		data.Rows = append(data.Rows, htmlRow{Cells: c.list(), PerSeed: perSeed(r.PerSeed), Significant: c.Significant})
	}
	return page.Execute(w, data)
}
