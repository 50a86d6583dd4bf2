// Package gallery shows an advisor's critical states as pictures beside
// its words: for each annotation, the state it names drawn from its
// snapshot by the task's renderer (MuJoCo's own renderer with the build
// tag render; Pong's frame code), with the advisor's reason, the action
// the agent took and the one suggested, and the implicit rewards. It
// writes one PNG per state and an index.html that links them relatively,
// with no request leaving the page.
package gallery

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// IndexFile is the gallery's page.
const IndexFile = "index.html"

// Options sizes the pictures and titles the page.
type Options struct {
	Width, Height int    // picture size (0: the task's default)
	Title         string // the page's title ("" : "Critical states: ENV, ADVISOR")
}

// Result says what a gallery holds.
type Result struct {
	Index   string `json:"index"`   // path of index.html
	Drawn   int    `json:"drawn"`   // states drawn
	Missing int    `json:"missing"` // annotations whose state had no snapshot
}

// ErrNoSnapshots is returned when no annotation's state can be drawn: the
// trajectories were collected without snapshots.
var ErrNoSnapshots = errors.New("gallery: no annotated state has a snapshot to draw: collect the trajectories with --snapshots (ultra collect --snapshots)")

// Check says whether spec's states can be drawn in this build, before
// the work whose annotations a gallery would show: a task without a
// renderer, or a MuJoCo task in a build without MuJoCo's, is refused with
// how to get one.
func Check(spec env.Spec) error {
	r, err := env.NewRenderer(spec, 0, 0)
	if err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	return r.Close()
}

// Card is one annotated state as the gallery shows it: its picture (PNG,
// nil when the state had no snapshot) and the advisor's words and
// actions as text.
type Card struct {
	PNG                                       []byte
	Episode, Reason, Taken, Suggested, Source string
	Step                                      int
	Reward                                    string
	SuggestedReward                           string // "" when the advisor gave none
}

// card is one annotated state on the page.
type card struct {
	Card
	Image string
}

// Draw renders each annotation's state: its own snapshot, or else the
// snapshot its trajectory recorded at the annotated step (trajs may be
// nil). Annotations with neither get a card without a picture. It fails
// with [ErrNoSnapshots] when no state can be drawn, and says how to get a
// renderer when the build or the task has none.
func Draw(spec env.Spec, anns []advisor.Annotation, trajs []traj.Trajectory, o Options) ([]Card, error) {
	if len(anns) == 0 {
		return nil, errors.New("gallery: no annotations to show")
	}
	byID := make(map[string]*traj.Trajectory, len(trajs))
	for i := range trajs {
		byID[trajs[i].ID] = &trajs[i]
	}
	snapshot := func(a advisor.Annotation) []float64 {
		if len(a.Snapshot) > 0 {
			return a.Snapshot
		}
		if t := byID[a.Episode]; t != nil && a.Step >= 0 && a.Step < len(t.Snapshots) {
			return t.Snapshots[a.Step]
		}
		return nil
	}
	have := 0
	for _, a := range anns {
		if snapshot(a) != nil {
			have++
		}
	}
	if have == 0 {
		return nil, ErrNoSnapshots
	}
	r, err := env.NewRenderer(spec, o.Width, o.Height)
	if err != nil {
		return nil, fmt.Errorf("gallery: %w", err)
	}
	defer r.Close()
	cards := make([]Card, len(anns))
	var img *image.RGBA // reused: png.Encode has copied the last one out
	for i, a := range anns {
		c := Card{Episode: a.Episode, Step: a.Step, Reason: a.Reason, Source: a.Source,
			Taken: actionText(spec, a.Taken), Suggested: actionText(spec, a.Action), Reward: strconv.FormatFloat(a.Reward, 'f', 2, 64)}
		if a.SuggestedReward != nil {
			c.SuggestedReward = strconv.FormatFloat(*a.SuggestedReward, 'f', 2, 64)
		}
		if snap := snapshot(a); snap != nil {
			if img, err = r.Render(snap, img); err != nil {
				return nil, fmt.Errorf("gallery: annotation %d (%s step %d): %w", i+1, a.Episode, a.Step, err)
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				return nil, fmt.Errorf("gallery: %w", err)
			}
			c.PNG = buf.Bytes()
		}
		cards[i] = c
	}
	return cards, nil
}

// Write draws each annotation's state into dir (created if needed) and
// writes its index.html (see [Draw] for where the states come from).
// Annotations without a snapshot are listed on the page without a picture
// and counted as missing.
func Write(dir string, spec env.Spec, anns []advisor.Annotation, trajs []traj.Trajectory, o Options) (Result, error) {
	drawn, err := Draw(spec, anns, trajs, o)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("gallery: %w", err)
	}
	res := Result{Index: filepath.Join(dir, IndexFile)}
	cards := make([]card, len(drawn))
	for i, c := range drawn {
		cards[i] = card{Card: c}
		if c.PNG == nil {
			res.Missing++
			continue
		}
		cards[i].Image = fmt.Sprintf("state-%03d.png", i+1)
		if err := atomicfile.Write(filepath.Join(dir, cards[i].Image), c.PNG); err != nil {
			return Result{}, fmt.Errorf("gallery: %w", err)
		}
		res.Drawn++
	}
	title := o.Title
	if title == "" {
		title = fmt.Sprintf("Critical states: %s, %s advisor", spec.ID, anns[0].Source)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, map[string]any{"Title": title, "Cards": cards, "Missing": res.Missing}); err != nil {
		return Result{}, fmt.Errorf("gallery: %w", err)
	}
	if err := atomicfile.Write(res.Index, buf.Bytes()); err != nil {
		return Result{}, fmt.Errorf("gallery: %w", err)
	}
	return res, nil
}

// actionText writes an action: a discrete action by index and, when the
// task names them, by name; a continuous one as its values.
func actionText(spec env.Spec, a []float32) string {
	if len(a) == 0 {
		return "(not recorded)"
	}
	if spec.Action.IsDiscrete() && len(a) == 1 {
		k := int(a[0])
		if spec.Info != nil && spec.Info.Pong != nil && k >= 0 && k < len(spec.Info.Pong.Actions) {
			return fmt.Sprintf("%d (%s)", k, spec.Info.Pong.Actions[k].Name)
		}
		return strconv.Itoa(k)
	}
	parts := make([]string, len(a))
	for i, v := range a {
		parts[i] = strconv.FormatFloat(float64(v), 'f', 2, 32)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// page is the gallery: inline style, images by relative path, nothing
// fetched from elsewhere.
var page = template.Must(template.New("gallery").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
.cards { display: flex; flex-wrap: wrap; gap: 1.2em; }
.card { width: 330px; border: 1px solid #ccc; border-radius: 4px; padding: 0.6em; }
.card img { width: 100%; height: auto; display: block; }
.card .none { height: 120px; display: flex; align-items: center; justify-content: center; background: #eee; color: #666; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 0.6em; margin: 0.5em 0 0; font-size: 0.9em; }
dt { font-weight: bold; }
dd { margin: 0; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>Each state an advisor marked critical, drawn from the simulator state recorded at that step,
with the advisor's reason, the action the agent took and the one suggested, and the implicit
rewards (in [−1, 1]). The pictures are the PNG files beside this page.{{if .Missing}}
{{.Missing}} state(s) had no snapshot to draw: collect the trajectories with --snapshots.{{end}}</p>
<div class="cards">
{{range .Cards}}<div class="card">
{{if .Image}}<img src="{{.Image}}" alt="{{.Episode}} step {{.Step}}">{{else}}<div class="none">no snapshot</div>{{end}}
<dl>
<dt>episode</dt><dd>{{.Episode}}, step {{.Step}}</dd>
<dt>reason</dt><dd>{{.Reason}}</dd>
<dt>taken</dt><dd>{{.Taken}}, reward {{.Reward}}</dd>
<dt>suggested</dt><dd>{{.Suggested}}{{if .SuggestedReward}}, reward {{.SuggestedReward}}{{end}}</dd>
<dt>advisor</dt><dd>{{.Source}}</dd>
</dl>
</div>
{{end}}</div>
</body>
</html>
`))
