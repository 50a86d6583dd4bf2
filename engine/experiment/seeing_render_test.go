//go:build render

package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeeingWithRenderer: with the renderer the report shows the scripted
// advisor's critical states inlined as PNGs and clips of the pretrained
// agent and of each variant's seed as GIFs in clips/, linked relatively;
// a rerun reuses the clips.
func TestSeeingWithRenderer(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	c := tiny(t, dir, &log)
	if _, err := Run(t.Context(), c); err != nil {
		t.Fatal(err, log.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<h2>Critical states: scripted advisor</h2>", "<h2>Before and after</h2>", "<dt>reason</dt>", "ultra-a, best seed (1"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, NoRendererNote) {
		t.Error("the page says there is no renderer")
	}
	pngs, clips := 0, map[string]bool{}
	for _, s := range srcs(page) {
		switch {
		case strings.HasPrefix(s, "data:image/png;base64,"):
			pngs++
		case strings.HasPrefix(s, "clips/") && strings.HasSuffix(s, ".gif"):
			clips[s] = true
			st, err := os.Stat(filepath.Join(dir, s))
			if err != nil || st.Size() == 0 || st.Size() > 1<<20 {
				t.Errorf("clip %s: %v, %v bytes (want 1 B to 1 MiB)", s, err, st.Size())
			}
		case strings.HasPrefix(s, "data:image/svg"): // the plots (svg&#43;xml)
		default:
			t.Errorf("the page links %s: want data: URIs or clips/", short(s))
		}
	}
	// 2 episodes × 3 annotations each, all drawn.
	if pngs != 6 {
		t.Errorf("%d states drawn, want 6", pngs)
	}
	want := []string{"clips/pretrained.gif", "clips/ppo-s1.gif", "clips/ultra-a-s1.gif"}
	for _, w := range want {
		if !clips[w] {
			t.Errorf("no clip %s in %v", w, clips)
		}
	}
	if len(clips) != len(want) {
		t.Errorf("clips %v, want %v", clips, want)
	}
	st, _ := os.Stat(filepath.Join(dir, "clips", "ppo-s1.gif"))
	if _, err := Run(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Stat(filepath.Join(dir, "clips", "ppo-s1.gif")); !again.ModTime().Equal(st.ModTime()) {
		t.Error("the rerun recorded the clip again")
	}
}
