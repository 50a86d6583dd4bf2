//go:build !render

package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeeingWithoutRenderer: in a build without MuJoCo's renderer the
// report says in one line how to get the pictures and clips, and nothing
// fails.
func TestSeeingWithoutRenderer(t *testing.T) {
	if testing.Short() {
		t.Skip("experiment run skipped in -short mode")
	}
	dir := t.TempDir()
	var log strings.Builder
	if _, err := Run(t.Context(), tiny(t, dir, &log)); err != nil {
		t.Fatal(err, log.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if !strings.Contains(page, "make build-render") || strings.Contains(page, "<h2>") {
		t.Errorf("the page lacks the renderer's note, or shows sections without a renderer")
	}
	for _, s := range srcs(page) {
		if !strings.HasPrefix(s, "data:") {
			t.Errorf("without a renderer the page links %s", short(s))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "clips")); err == nil {
		t.Error("clips/ was made without a renderer")
	}
}
