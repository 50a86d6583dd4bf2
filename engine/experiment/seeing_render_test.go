//go:build render

package experiment

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
	t.Run("chromium", func(t *testing.T) { inChromium(t, dir, len(srcs(page))) })
}

// check is appended to a copy of the page: once everything has loaded it
// writes into the DOM how many images there are, how many loaded, the
// <video> elements and every resource fetched from other than file: or
// data: URLs.
const check = `<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src").slice(0, 40));
  const vids = [...document.querySelectorAll("video")];
  const away = performance.getEntriesByType("resource").map(e => e.name).filter(n => !/^(file|data):/.test(n));
  const p = document.createElement("pre");
  p.id = "ultra-check";
  p.textContent = "images=" + imgs.length + " loaded=" + (imgs.length - bad.length) + " videos=" + vids.length +
    " videos_ready=" + vids.filter(v => v.readyState >= 2).length + " failed=[" + bad.join(" ") + "] away=[" + away.join(" ") + "]";
  document.body.appendChild(p);
});
</script>
`

// inChromium opens dir's report.html in headless Chromium from a file://
// URL, every host unresolvable, and checks that all of its images (want
// of them) load and that nothing is fetched from elsewhere (issue 29).
func inChromium(t *testing.T, dir string, want int) {
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no Chromium on PATH (apt-get install chromium, or make test-deps as root): the report's pictures and clips are not checked in a browser")
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	// Beside the report, so that its relative links resolve alike.
	probe := filepath.Join(dir, "report-check.html")
	if err := os.WriteFile(probe, []byte(strings.Replace(string(b), "</body>", check+"</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := time.Now()
	dom, err := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=socks5://127.0.0.1:9", "--virtual-time-budget=5000",
		"--dump-dom", "file://"+probe).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := regexp.MustCompile(`images=(\d+) loaded=(\d+) videos=(\d+) videos_ready=(\d+) failed=\[([^\]]*)\] away=\[([^\]]*)\]`).FindStringSubmatch(string(dom))
	if m == nil {
		t.Fatalf("the check did not run in the page (no load event in %v?)", time.Since(start))
	}
	n, _ := strconv.Atoi(m[1])
	loaded, _ := strconv.Atoi(m[2])
	if n != want || loaded != n || m[3] != m[4] || m[5] != "" {
		t.Errorf("chromium: %d images (want %d), %d loaded, videos %s of which %s ready; failed: %s", n, want, loaded, m[3], m[4], m[5])
	}
	if m[6] != "" {
		t.Errorf("the page fetched from elsewhere: %s", m[6])
	}
	t.Logf("chromium: %d images loaded, %s videos, in %v", loaded, m[3], time.Since(start).Round(time.Millisecond))
}
