package configflags

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type cfg struct {
	Steps  int     `yaml:"num-steps" help:"steps"`
	Seed   uint64  `yaml:"seed" help:"seed"`
	LR     float64 `yaml:"learning-rate" help:"lr"`
	Norm   bool    `yaml:"norm-obs" help:"norm"`
	Act    string  `yaml:"activation" help:"act"`
	Hidden []int   `yaml:"hidden" help:"layers"`
}

func apply(t *testing.T, yaml string, args ...string) (cfg, error) {
	t.Helper()
	c := cfg{Steps: 2048, LR: 3e-4, Hidden: []int{64, 64}}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cf := New(fs, &c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	path := ""
	if yaml != "-" {
		path = filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c, cf.Apply(path)
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		args       []string
		want       string // error substring; "" for success
		check      func(c cfg) bool
	}{
		{name: "values", yaml: "num-steps: 1e6\nseed: 7\nlearning-rate: 2.5e-4\nnorm-obs: true\nactivation: relu\nhidden: [256, 128]\n",
			check: func(c cfg) bool {
				return c.Steps == 1_000_000 && c.Seed == 7 && c.LR == 2.5e-4 && c.Norm && c.Act == "relu" && len(c.Hidden) == 2 && c.Hidden[1] == 128
			}},
		{name: "flags override the file", yaml: "num-steps: 512\n", args: []string{"--num-steps", "128"}, check: func(c cfg) bool { return c.Steps == 128 }},
		{name: "empty file", yaml: "", check: func(c cfg) bool { return c.Steps == 2048 }},
		{name: "no file", yaml: "-", check: func(c cfg) bool { return c.Steps == 2048 }},
		// Issue 14, finding 13: a YAML decoder truncates 2048.5 to 2048.
		{name: "a fraction for an integer", yaml: "num-steps: 2048.5\n", want: `line 1: num-steps "2048.5": want an integer`},
		{name: "a fraction on the command line", yaml: "-", args: []string{"--num-steps", "2048.5"}, want: `--num-steps "2048.5": want an integer`},
		{name: "a negative seed", yaml: "seed: -1\n", want: `seed "-1": want a non-negative integer`},
		{name: "yes for a bool", yaml: "norm-obs: yes\n", want: "want true or false"},
		{name: "an unknown key", yaml: "lerning-rate: 1\n", want: `line 1: unknown option "lerning-rate": did you mean learning-rate?`},
		// Issue 30, rough edge 7: CleanRL's spelling names ultra's.
		{name: "underscores", yaml: "learning_rate: 1\n", want: `unknown option "learning_rate": ultra spells it learning-rate (hyphens, not underscores)`},
		{name: "SB3's name", yaml: "n_steps: 64\n", want: `unknown option "n_steps": ultra's name is num-steps (SB3's n-steps)`},
		{name: "nothing close", yaml: "wandb-entity: me\n", want: `unknown option "wandb-entity"` + "\n"},
		{name: "a key twice", yaml: "seed: 1\nseed: 2\n", want: "seed is given twice"},
		{name: "a nested map", yaml: "hidden:\n  a: 1\n", want: "want a single value or a list"},
		{name: "a list of lists", yaml: "hidden: [[1]]\n", want: "want a list of numbers"},
		{name: "not a mapping", yaml: "- 1\n- 2\n", want: `want "key: value" lines`},
		{name: "not YAML", yaml: "a: [\n", want: "--config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := apply(t, tc.yaml, tc.args...)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error()+"\n", tc.want) {
					t.Fatalf("got %v, want an error containing %q", err, tc.want)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("got %+v, %v", c, err)
			}
		})
	}
}

// TestFixedAndOnly: New binds every tagged field or only the keys given;
// Fixed names the given flags that no set marks resume:"ok" and the allow
// list does not name; an empty default prints no "(default …)".
func TestFixedAndOnly(t *testing.T) {
	type grp struct {
		Steps int    `yaml:"steps" help:"steps" resume:"ok"`
		Seed  int    `yaml:"seed" help:"seed"`
		Dev   string `yaml:"device" help:"where" resume:"ok"`
	}
	var g grp
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := New(fs, &g)
	out := fs.String("out", "", "dir")
	if err := fs.Parse([]string{"--steps", "5", "--seed", "2", "--out", "x", "--device", "cpu"}); err != nil {
		t.Fatal(err)
	}
	if got := Fixed(fs, []string{"out"}, s); len(got) != 1 || got[0] != "--seed" || *out != "x" {
		t.Errorf("fixed %v, want [--seed]", got)
	}
	if fs.Lookup("device").Usage != "where" {
		t.Errorf("an empty default printed as %q", fs.Lookup("device").Usage)
	}
	fs2 := flag.NewFlagSet("t2", flag.ContinueOnError)
	New(fs2, &g, "device")
	if fs2.Lookup("device") == nil || fs2.Lookup("steps") != nil || fs2.Lookup("seed") != nil {
		t.Error("only: bound other keys than device")
	}
}

// TestSuggest: an unknown option is answered with the one that exists:
// hyphens for underscores, ultra's name for CleanRL's and SB3's, a near
// spelling; nothing when nothing is close (issue 30, rough edges 7 and 11).
func TestSuggest(t *testing.T) {
	known := []string{"steps", "envs", "env", "num-steps", "learning-rate", "device", "num-minibatches", "update-epochs", "seed"}
	for _, tc := range []struct{ name, prefix, want string }{
		{"total-timesteps", "--", "ultra's name is --steps (CleanRL's and SB3's total-timesteps)"},
		{"total_timesteps", "", "ultra's name is steps (CleanRL's and SB3's total-timesteps)"},
		{"num-envs", "--", "ultra's name is --envs (CleanRL's num-envs)"},
		{"env-id", "--", "ultra's name is --env (CleanRL's env-id)"},
		{"cuda", "--", "ultra's name is --device (CleanRL's cuda: device cuda)"},
		{"batch-size", "--", "ultra's name is --num-minibatches (SB3's batch-size is the minibatch size; ultra divides envs × num-steps into num-minibatches)"},
		{"learning_rate", "--", "ultra spells it --learning-rate (hyphens, not underscores)"},
		{"Learning_Rate", "", "ultra spells it learning-rate (hyphens, not underscores)"},
		{"lerning-rate", "--", "did you mean --learning-rate?"},
		{"sed", "--", "did you mean --seed?"},
		{"track", "--", ""},
		{"x", "--", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Suggest(tc.name, known, tc.prefix); got != tc.want {
				t.Errorf("Suggest(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}
