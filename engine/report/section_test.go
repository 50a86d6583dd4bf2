package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestWriteHTMLSections: a section's pictures are inlined as data URIs or
// linked by a path inside the page's directory; other types and links
// that would leave the page are refused, naming the fix.
func TestWriteHTMLSections(t *testing.T) {
	rows, err := Summarize([]Run{{Variant: "ppo", Seed: 1, Eval: []float64{1}}}, "ppo", 1)
	if err != nil {
		t.Fatal(err)
	}
	png := []byte("\x89PNG\r\n\x1a\n")
	for _, tc := range []struct {
		name string
		tile Tile
		want string // in the page, or in the error when refused
		bad  bool
	}{
		{"inline png", Tile{Image: png, Mime: "image/png", Alt: "s1", Fields: []Field{{"reason", "falls <fast>"}}}, `src="data:image/png;base64,iVBORw0KGgo="`, false},
		{"the fields escaped", Tile{Image: png, Mime: "image/png", Fields: []Field{{"reason", "falls <fast>"}}}, `<dt>reason</dt><dd>falls &lt;fast&gt;</dd>`, false},
		{"relative clip", Tile{Src: "clips/ppo-s1.gif", Alt: "ppo"}, `src="clips/ppo-s1.gif"`, false},
		{"no picture", Tile{Alt: "none", Fields: []Field{{"policy", "ppo"}}}, `<div class="tile">` + "\n<dl><dt>policy</dt>", false},
		{"other type", Tile{Image: png, Mime: "text/html"}, "give image/png or image/gif", true},
		{"remote", Tile{Src: "https://example.com/a.gif"}, "relative to the page", true},
		{"absolute", Tile{Src: "/tmp/a.gif"}, "relative to the page", true},
		{"outside", Tile{Src: "../a.gif"}, "relative to the page", true},
		{"script", Tile{Src: "javascript:alert(1)"}, "relative to the page", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WriteHTMLSections(&b, "t", rows, nil, nil, []Section{{Title: "States", Intro: "intro", Tiles: []Tile{tc.tile}}})
			switch {
			case tc.bad && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want a refusal naming %q", err, tc.want)
			case !tc.bad && err != nil:
				t.Fatal(err)
			case !tc.bad && (!strings.Contains(b.String(), tc.want) || !strings.Contains(b.String(), "<h2>States</h2>\n<p>intro</p>")):
				t.Errorf("the page lacks %q:\n%s", tc.want, b.String())
			}
		})
	}
}
