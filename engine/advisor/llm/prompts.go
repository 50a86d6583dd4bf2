package llm

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/traj"
)

//go:embed prompts/*.tmpl
var embeddedPrompts embed.FS

// templateNames are the prompt templates, each overridable by a file of the
// same name in Config.PromptDir. Templates may include each other by name,
// e.g. {{template "schema.tmpl" .}}.
var templateNames = []string{
	"system.tmpl",     // system message: role, background, rules, action space
	"background.tmpl", // ULTRA's three steps, included by system.tmpl
	"episodes.tmpl",   // the batch's episode summaries
	"schema.tmpl",     // the final JSON output format
	"single.tmpl",     // user message of single mode
	"identify.tmpl",   // three mode, step 1
	"suggest.tmpl",    // three mode, step 2
	"reward.tmpl",     // three mode, step 3
}

// loadTemplates parses the embedded templates, replacing each one that
// dir holds a file of the same name for. Other *.tmpl files in dir are an
// error, so a misspelt override does not go silently unused.
func loadTemplates(dir string) (*template.Template, error) {
	root := template.New("prompts").Option("missingkey=error")
	for _, name := range templateNames {
		b, err := embeddedPrompts.ReadFile("prompts/" + name)
		if err != nil {
			return nil, fmt.Errorf("llm: embedded template %s: %w", name, err)
		}
		if dir != "" {
			ob, err := os.ReadFile(filepath.Join(dir, name))
			switch {
			case err == nil:
				b = ob
			case !errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("llm: prompt override: %w", err)
			}
		}
		if _, err := root.New(name).Parse(string(b)); err != nil {
			return nil, fmt.Errorf("llm: template %s: %w", name, err)
		}
	}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.tmpl"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if !slices.Contains(templateNames, filepath.Base(f)) {
				return nil, fmt.Errorf("llm: prompt_dir holds %s, which overrides nothing (templates are %s)", filepath.Base(f), strings.Join(templateNames, ", "))
			}
		}
	}
	return root, nil
}

// templateSet renders the prompt templates.
type templateSet struct{ t *template.Template }

func (s *templateSet) render(name string, d promptData) (string, error) {
	var b bytes.Buffer
	if err := s.t.ExecuteTemplate(&b, name, d); err != nil {
		return "", fmt.Errorf("llm: rendering %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// check renders every message template against an example batch, so a
// broken override fails New rather than the first batch.
func (s *templateSet) check(base promptData) error {
	d := base
	d.Episodes = []episodeData{{ID: "example", Return: 1, Len: 2, End: "ended", Rank: 1,
		Summary: "step 0: …", Steps: []int{0, 1}, StepList: "0, 1"}}
	d.Total = 1
	for _, name := range []string{"system.tmpl", "single.tmpl", "identify.tmpl", "suggest.tmpl", "reward.tmpl"} {
		if _, err := s.render(name, d); err != nil {
			return err
		}
	}
	return nil
}

// promptData is what every template sees.
type promptData struct {
	Task          string // spec.ID
	Doc           string // spec.Doc
	Rules         string // interpret.Rules
	ActionSpace   string // e.g. "Box(3, [-1, 1])"
	ActDim        int
	Discrete      bool
	MaxDiscrete   int // N-1 for a discrete space
	Bounds        []boundData
	ActionExample string // "<number>, <number>, <number>"
	MaxCritical   int
	Agentic       bool          // ModeAgentic: the show_steps tool is offered
	MaxToolCalls  int           // ModeAgentic: calls per request
	ToolSteps     int           // ModeAgentic: steps per call
	Episodes      []episodeData // by decreasing return
	Total         int           // len(Episodes)
}

type boundData struct {
	Index     int
	Low, High string
}

type episodeData struct {
	ID       string
	Return   float64
	Len      int
	End      string // "terminated", "truncated at the step limit" or "ended"
	Rank     int    // 1 = highest return of the batch
	Summary  string // interpret.Summarize text
	Steps    []int  // the steps the model may cite
	StepList string // Steps, comma-separated
	Omitted  int
	Contrast string // the best episode over the same steps, for a failed low-return episode (Config.Contrast)
}

// baseData fills the batch-independent fields.
func baseData(spec env.Spec, rules string, maxCritical int) promptData {
	d := promptData{
		Task: spec.ID, Doc: spec.Doc, Rules: rules,
		ActionSpace: spec.Action.String(), ActDim: spec.Action.Dim,
		Discrete: spec.Action.IsDiscrete(), MaxCritical: maxCritical,
	}
	ex := make([]string, spec.Action.Dim)
	if d.Discrete {
		d.MaxDiscrete = spec.Action.N - 1
		ex[0] = "<integer>"
	} else {
		for i := range spec.Action.Dim {
			d.Bounds = append(d.Bounds, boundData{i, fmtBound(spec.Action.Low[i]), fmtBound(spec.Action.High[i])})
			ex[i] = "<number>"
		}
	}
	d.ActionExample = strings.Join(ex, ", ")
	return d
}

func fmtBound(v float32) string {
	return strconv.FormatFloat(float64(v), 'g', -1, 32)
}

// batchData adds the episodes of one batch, sorted by decreasing return.
func batchData(base promptData, trajs []*traj.Trajectory, sums []interpret.Summary) promptData {
	d := base
	d.Episodes = make([]episodeData, len(trajs))
	for i, t := range trajs {
		end := "ended"
		switch {
		case t.Terminated:
			end = "terminated: the agent failed"
		case t.Truncated:
			end = "truncated at the step limit"
		}
		steps := make([]string, len(sums[i].Steps))
		for j, s := range sums[i].Steps {
			steps[j] = strconv.Itoa(s)
		}
		d.Episodes[i] = episodeData{
			ID: t.ID, Return: t.Return, Len: t.Len(), End: end,
			Summary: strings.TrimSpace(sums[i].Text), Steps: sums[i].Steps,
			StepList: strings.Join(steps, ", "), Omitted: sums[i].Omitted,
		}
	}
	sort.SliceStable(d.Episodes, func(i, j int) bool { return d.Episodes[i].Return > d.Episodes[j].Return })
	for i := range d.Episodes {
		d.Episodes[i].Rank = i + 1
	}
	d.Total = len(d.Episodes)
	return d
}
