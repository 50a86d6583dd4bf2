package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/ppo"
)

// TestVersion: ultra version and ultra --version print the module
// version, the commit and the build tags this binary has (issue 30, rough
// edge 1).
func TestVersion(t *testing.T) {
	a, err := runCLI(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	b, err := runCLI(t, "--version")
	if err != nil || a != b {
		t.Fatalf("--version gave %q (%v), version %q", b, err, a)
	}
	tags := "none"
	if bt := buildTags(); len(bt) > 0 {
		tags = strings.Join(bt, ", ")
	}
	for _, want := range []string{"ultra ", "\ncommit  ", "\ntags    " + tags + "\n", "\ngo      go1."} {
		if !strings.Contains(a, want) {
			t.Errorf("version lacks %q:\n%s", want, a)
		}
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want []string
	}{
		{"none recorded", nil, []string{"ultra (devel)\n", "commit  unknown"}},
		{"a release", &debug.BuildInfo{Main: debug.Module{Path: "github.com/ultra-rl/ultra", Version: "v1.2.3"}}, []string{"ultra v1.2.3\n"}},
		{"a checkout", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "c193f4a0"}, {Key: "vcs.time", Value: "2026-12-05T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"}, {Key: "-tags", Value: "ale"}}}, []string{"commit  c193f4a0 (2026-12-05T10:00:00Z), with uncommitted changes\n"}},
		{"a clean checkout", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}, []string{"commit  abc\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := versionText(tc.bi)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestHelpExitsZero: -h on every command and subcommand prints its usage
// and exits 0, as ultra --help does; an error still exits 2 (issue 30,
// rough edge 2).
func TestHelpExitsZero(t *testing.T) {
	cmds := [][]string{{}}
	for _, c := range commands {
		cmds = append(cmds, []string{c.name})
	}
	for _, sub := range []string{"plan", "unit", "report", "k8s", "slurm"} {
		cmds = append(cmds, []string{"sweep", sub})
	}
	for _, sub := range []string{"env", "env-scaling", "update"} {
		cmds = append(cmds, []string{"bench", sub})
	}
	for _, c := range cmds {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string(nil), c...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				out, err := runCLI(t, args...)
				if st := exitStatus(err, io.Discard); st != 0 {
					t.Errorf("exit status %d (%v), want 0", st, err)
				}
				want := "ultra " + strings.Join(c, " ")
				if len(c) == 0 {
					want = "Usage:"
				}
				if !strings.Contains(out, want) || !strings.Contains(strings.ToLower(out), "usage") && !strings.Contains(out, "  ultra ") {
					t.Errorf("no usage naming %q:\n%s", want, out)
				}
			})
		}
	}
	if st := exitStatus(errors.New("x"), io.Discard); st != 2 {
		t.Errorf("an error exits %d, want 2", st)
	}
	if st := exitStatus(flag.ErrHelp, io.Discard); st != 0 {
		t.Errorf("ErrHelp exits %d", st)
	}
}

// TestUsageListsEveryCommand: ultra --help names every command and every
// bench target, and bench update's default backend is train's (issue 30,
// rough edge 3).
func TestUsageListsEveryCommand(t *testing.T) {
	out, err := runCLI(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		if !strings.Contains(out, "\n  ultra "+c.name+" ") {
			t.Errorf("usage lacks ultra %s:\n%s", c.name, out)
		}
	}
	for _, target := range []string{"env", "env-scaling", "update"} {
		if !strings.Contains(out, "ultra bench "+target+" [flags]") {
			t.Errorf("usage lacks ultra bench %s", target)
		}
	}
	want := "(default " + ppo.Defaults().Backend + ")"
	for _, c := range [][]string{{"train"}, {"bench", "update"}} {
		if got := helpOf(t, c...)["backend"]; !strings.HasSuffix(got, want) {
			t.Errorf("%v --backend: %q, want the default %s", c, got, want)
		}
	}
}

// TestUnknownFlagNamesUltras: a flag ultra does not have is one error
// line, without the usage before it, naming ultra's flag for CleanRL's
// and SB3's names and for near spellings (issue 30, rough edge 11).
func TestUnknownFlagNamesUltras(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--total-timesteps", "1000"}, "train: unknown flag --total-timesteps: ultra's name is --steps (CleanRL's and SB3's total-timesteps) (ultra train -h lists the flags)"},
		{[]string{"train", "--num-envs", "4"}, "unknown flag --num-envs: ultra's name is --envs"},
		{[]string{"train", "--env-id", "Hopper-v4"}, "unknown flag --env-id: ultra's name is --env"},
		{[]string{"train", "--learning_rate", "1e-3"}, "unknown flag --learning_rate: ultra spells it --learning-rate"},
		{[]string{"refine", "--varient", "ultra-a"}, "unknown flag --varient: did you mean --variant?"},
		{[]string{"eval", "--wandb"}, "eval: unknown flag --wandb (ultra eval -h lists the flags)"},
		{[]string{"eval", "--episodes", "x"}, `eval: invalid value "x" for flag -episodes`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := runCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("printed before the error:\n%s", out)
			}
		})
	}
}

// TestREADMEUnknownEnvExample: the README's example of an unknown env's
// error is the command's own (issue 30, rough edge 4).
func TestREADMEUnknownEnvExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`(ultra: eval: unknown env \"([^\"]+)\"[^`]*)`").FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("README.md has no example error `ultra: eval: unknown env \"…\": …`")
	}
	_, err = runCLI(t, "eval", "--env", m[2])
	if err == nil || "ultra: "+err.Error() != m[1] {
		t.Errorf("README says\n  %s\nultra eval --env %s says\n  ultra: %v", m[1], m[2], err)
	}
}

// TestTrainStepsBarAndExtension: --steps off the batch trains the whole
// iterations below and says so in the log and the final line; the bar
// reaches 100% of them and the log's last line starts a line of its own
// (rough edges 5 and 6). Resuming the finished run has nothing to train
// and says how to train longer; a longer plan is refused while the rate
// annealed, allowed without annealing, and config.yaml records it (rough
// edges 9 and 10).
func TestTrainStepsBarAndExtension(t *testing.T) {
	tmp := t.TempDir()
	cfgFile := filepath.Join(tmp, "c.yaml")
	os.WriteFile(cfgFile, []byte("num-steps: 256\nnum-minibatches: 4\nupdate-epochs: 1\nenvs: 2\n"), 0o644)
	flat := filepath.Join(tmp, "flat.yaml")
	os.WriteFile(flat, []byte("num-steps: 256\nnum-minibatches: 4\nupdate-epochs: 1\nenvs: 2\nanneal-lr: false\n"), 0o644)
	annealed, constant := filepath.Join(tmp, "annealed"), filepath.Join(tmp, "constant")
	train := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := runCommand(append(append([]string{"train"}, args...), "--metrics-addr", ""), &out, &errb)
		return out.String(), errb.String(), err
	}
	out, log, err := train("--env", "hopper", "--steps", "1300", "--config", cfgFile, "--out", annealed, "--progress", "bar")
	if err != nil {
		t.Fatal(err, log)
	}
	for _, want := range []string{"--steps 1300 is not a multiple of the batch (envs × num-steps = 512): training 2 whole iterations, 1024 steps",
		"100.0% 1024/1024 steps"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if !regexp.MustCompile(`(?m)^time=\S+ level=INFO msg=done steps=1024`).MatchString(log) {
		t.Errorf("msg=done is not on a line of its own:\n%q", log)
	}
	if want := "trained hopper for 1024 steps (--steps 1300 rounded down to whole iterations) in "; !strings.Contains(out, want) {
		t.Errorf("final line %q, want %q", out, want)
	}
	if _, log, err := train("--env", "hopper", "--steps", "1024", "--config", flat, "--out", constant, "--progress", "log"); err != nil {
		t.Fatal(err, log)
	}
	for _, tc := range []struct {
		name, dir string
		args      []string
		want      string // on stdout when ok, else in the error
		ok        bool
	}{
		{"finished, same steps", annealed, nil, "nothing to train: " + annealed + " finished its 1024 steps (mean return of the last", true},
		{"finished and annealed, same steps (hint)", annealed, nil, "; to train longer, fine-tune its checkpoint as a new run with a schedule of its own: ultra refine --checkpoint " +
			filepath.Join(annealed, "checkpoint.bin") + " --variant ppo --steps 1024 --out " + annealed + "-more", true},
		{"finished and annealed, longer", annealed, []string{"--steps", "2048"}, "resuming it with --steps 2048 would restart the annealing at 0.00015, not continue it; " +
			"to train on from it, fine-tune its checkpoint as a new run with a schedule of its own: ultra refine --checkpoint " + filepath.Join(annealed, "checkpoint.bin") +
			" --variant ppo --steps 1024 --out " + annealed + "-more", false},
		{"fewer than trained", annealed, []string{"--steps", "512"}, "--steps 512 is less than the 1024 steps the run has trained", false},
		{"constant rate, longer", constant, []string{"--steps", "2048"}, "trained hopper for 2048 steps in", true},
		{"constant rate, finished, same steps (hint)", constant, nil, "; to train longer, give the new total: ultra train --out " + constant + " --resume --steps 3072", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, log, err := train(append([]string{"--out", tc.dir, "--resume", "--progress", "log"}, tc.args...)...)
			if tc.ok && (err != nil || !strings.Contains(out, tc.want)) {
				t.Fatalf("got %v, stdout %q, want %q\n%s", err, out, tc.want, log)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(out+log, "NaN") {
				t.Errorf("NaN in the output:\n%s%s", out, log)
			}
		})
	}
	b, _ := os.ReadFile(filepath.Join(constant, "config.yaml"))
	if !strings.Contains(string(b), "steps: 2048\n") {
		t.Errorf("config.yaml after the extension:\n%s", b)
	}
	// eval takes the run directory for its checkpoint.bin, and the exported
	// policy, with the same result (rough edge 15; the policy in Python).
	out, err = runCLI(t, "eval", "--checkpoint", constant, "--episodes", "2", "--mode", "deterministic", "--json")
	if err != nil || !strings.Contains(out, "checkpoint/deterministic") {
		t.Errorf("eval --checkpoint DIR: %v\n%s", err, out)
	}
	fromPolicy, err := runCLI(t, "eval", "--checkpoint", filepath.Join(constant, "policy.safetensors"), "--episodes", "2", "--mode", "deterministic", "--json")
	if err != nil || fromPolicy != out {
		t.Errorf("eval --checkpoint policy.safetensors: %v\n%s\nwant what the checkpoint gives:\n%s", err, fromPolicy, out)
	}
}

// TestGymnasiumNames: Gymnasium's v4 ids name the tasks they match, runs
// record the task's own id, v5 ids are refused with what differs, and
// ultra envs lists both names (issue 30, Gymnasium names).
func TestGymnasiumNames(t *testing.T) {
	out, err := runCLI(t, "envs")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GYMNASIUM ID", "Hopper-v4", "Walker2d-v4", "HalfCheetah-v4", "Ant-v4"} {
		if !strings.Contains(out, want) {
			t.Errorf("envs lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		id, want string
	}{
		{"Hopper-v4", `"env": "hopper"`},
		{"Walker2d-v4", `"env": "walker2d"`},
		{"HalfCheetah-v4", `"env": "halfcheetah"`},
		{"Ant-v4", `"env": "ant"`},
		{"Hopper-v5", "pays the healthy reward only while the hopper is healthy"},
		{"Walker2d-v5", "gives both feet friction 1.9"},
		{"HalfCheetah-v5", "keeps v4's dynamics and reward but is another id"},
		{"Ant-v5", "always charges the contact cost"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			out, err := runCLI(t, "eval", "--env", tc.id, "--policy", "zero", "--episodes", "1", "--json")
			if strings.HasSuffix(tc.id, "-v5") {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "use "+strings.ToLower(strings.TrimSuffix(tc.id, "-v5"))+" (or "+strings.TrimSuffix(tc.id, "5")+"4)") {
					t.Errorf("got %v, want %q and the v4 name", err, tc.want)
				}
				return
			}
			if err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("got %v\n%s\nwant %q", err, out, tc.want)
			}
		})
	}
	dir := filepath.Join(t.TempDir(), "run")
	if out, err := runCLI(t, "train", "--env", "Hopper-v4", "--steps", "512", "--num-steps", "256", "--envs", "2", "--num-minibatches", "2",
		"--update-epochs", "1", "--out", dir, "--progress", "log", "--metrics-addr", ""); err != nil {
		t.Fatal(err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "config.yaml")); !strings.Contains(string(b), "env: hopper\n") {
		t.Errorf("config.yaml records another env than hopper:\n%s", b)
	}
	if out, err := runCLI(t, "eval", "--checkpoint", dir, "--episodes", "1", "--mode", "deterministic"); err != nil {
		t.Errorf("eval of a run started as Hopper-v4: %v\n%s", err, out)
	}
}
