package report

import (
	"encoding/base64"
	"html/template"
	"io"
	"os"
	"strings"
)

// htmlTable is one table of a page; Bold is the index of a row's cell
// shown in bold, or -1.
type htmlTable struct {
	Headers []string
	Rows    []htmlRow
}

type htmlRow struct {
	Cells []string
	Bold  int
}

// htmlList is a bulleted list with an introducing sentence.
type htmlList struct {
	Intro string
	Items []string
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
img { width: 100%; max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9em; color: #555; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{- range .Figures}}
<figure><img src="{{.Src}}" alt="{{.Caption}}"><figcaption>{{.Caption}}</figcaption></figure>
{{- end}}
{{- range .Tables}}
<div class="scroll">
<table>
<thead><tr>{{range .Headers}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{$b := .Bold}}{{range $i, $c := .Cells}}{{if eq $i 0}}<td>{{$c}}</td>{{else}}<td class="num{{if eq $i $b}} sig{{end}}">{{$c}}</td>{{end}}{{end}}</tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}
{{- range .Lists}}
{{- if .Intro}}
<p>{{.Intro}}</p>
{{- end}}
<ul>
{{- range .Items}}
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
	t := htmlTable{Headers: headers}
	per := htmlList{Intro: "Per-seed mean evaluation return, in seed order:"}
	for _, r := range rows {
		c := rowCells(r)
		bold := -1
		if c.Significant {
			bold = 4
		}
		t.Rows = append(t.Rows, htmlRow{Cells: c.list(), Bold: bold})
		per.Items = append(per.Items, r.label()+": "+perSeed(r.PerSeed))
	}
	return writePage(w, title, figures, []htmlTable{t}, []htmlList{per, {Items: notes}})
}

// writePage renders the page template; lists without items are left out.
func writePage(w io.Writer, title string, figures []Figure, tables []htmlTable, lists []htmlList) error {
	type fig struct {
		Caption string
		Src     template.URL
	}
	data := struct {
		Title   string
		Figures []fig
		Tables  []htmlTable
		Lists   []htmlList
	}{Title: title, Tables: tables}
	for _, l := range lists {
		if len(l.Items) > 0 {
			data.Lists = append(data.Lists, l)
		}
	}
	for _, f := range figures {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return err
		}
		mime := "image/png"
		if strings.HasSuffix(f.Path, ".svg") {
			mime = "image/svg+xml"
		}
		data.Figures = append(data.Figures, fig{f.Caption, template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b))})
	}
	return page.Execute(w, data)
}
