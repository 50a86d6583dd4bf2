package report

import (
	"encoding/base64"
	"fmt"
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

// Section is a part of a report page after the table and notes: an
// introduction and pictures (still or animated), each inlined as a data
// URI (or linked relatively) with named fields beneath it.
type Section struct {
	Title, Intro string
	Tiles        []Tile
}

// Tile is one picture of a Section: inlined from Image, or else linked
// by Src, a path relative to the page (large animations kept beside it).
type Tile struct {
	Image  []byte // PNG or GIF bytes
	Mime   string // "image/png" or "image/gif"
	Src    string // with no Image: a relative path such as clips/a.gif; "": no picture
	Alt    string
	Fields []Field
}

// Field is one named line beneath a Tile's picture.
type Field struct{ Name, Value string }

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
.tiles { display: flex; flex-wrap: wrap; gap: 1em; }
.tile { width: 15em; border: 1px solid #ccc; border-radius: 4px; padding: 0.5em; font-size: 0.85em; }
.tile img { width: 100%; image-rendering: auto; }
.tile dl { display: grid; grid-template-columns: max-content auto; gap: 0.1em 0.5em; margin: 0.4em 0 0; }
.tile dt { font-weight: bold; }
.tile dd { margin: 0; }
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
{{- range .Sections}}
<h2>{{.Title}}</h2>
{{- if .Intro}}
<p>{{.Intro}}</p>
{{- end}}
<div class="tiles">
{{- range .Tiles}}
<div class="tile">{{if .Src}}<img src="{{.Src}}" alt="{{.Alt}}">{{end}}
<dl>{{range .Fields}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
</div>
{{- end}}
</div>
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
	return WriteHTMLSections(w, title, rows, notes, figures, nil)
}

// WriteHTMLSections is WriteHTML with sections of pictures after the
// notes (an experiment's critical states and clips), inlined as data URIs
// so that the page stays one self-contained file.
func WriteHTMLSections(w io.Writer, title string, rows []Row, notes []string, figures []Figure, sections []Section) error {
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
	return writePage(w, title, figures, []htmlTable{t}, []htmlList{per, {Items: notes}}, sections...)
}

// writePage renders the page template; lists without items are left out.
func writePage(w io.Writer, title string, figures []Figure, tables []htmlTable, lists []htmlList, sections ...Section) error {
	type fig struct {
		Caption string
		Src     template.URL
	}
	type tile struct {
		Src    template.URL
		Alt    string
		Fields []Field
	}
	type section struct {
		Title, Intro string
		Tiles        []tile
	}
	data := struct {
		Title    string
		Figures  []fig
		Tables   []htmlTable
		Lists    []htmlList
		Sections []section
	}{Title: title, Tables: tables}
	for _, sec := range sections {
		out := section{Title: sec.Title, Intro: sec.Intro}
		for _, t := range sec.Tiles {
			var src template.URL
			if t.Image != nil {
				if t.Mime != "image/png" && t.Mime != "image/gif" {
					return fmt.Errorf("report: section %q: picture %q is %q: give image/png or image/gif", sec.Title, t.Alt, t.Mime)
				}
				src = template.URL("data:" + t.Mime + ";base64," + base64.StdEncoding.EncodeToString(t.Image))
			} else if t.Src != "" {
				if !relative(t.Src) {
					return fmt.Errorf("report: section %q: picture %q links %q: give a path relative to the page, inside its directory", sec.Title, t.Alt, t.Src)
				}
				src = template.URL(t.Src)
			}
			out.Tiles = append(out.Tiles, tile{Src: src, Alt: t.Alt, Fields: t.Fields})
		}
		data.Sections = append(data.Sections, out)
	}
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

// relative reports whether src is a path inside the page's directory: no
// scheme, no leading slash, no "..", so that the page needs nothing from
// elsewhere.
func relative(src string) bool {
	if strings.ContainsAny(src, ":\\?#") || strings.HasPrefix(src, "/") {
		return false
	}
	for _, part := range strings.Split(src, "/") {
		if part == ".." || part == "" {
			return false
		}
	}
	return true
}
