package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/experiment"
)

// helpOf parses a command's -h output into flag → usage text.
func helpOf(t *testing.T, args ...string) map[string]string {
	t.Helper()
	out, _ := runCLI(t, append(args, "-h")...)
	flags := map[string]string{}
	var name string
	for _, line := range strings.Split(out, "\n") {
		if m := regexp.MustCompile(`^  -(\S+)`).FindStringSubmatch(line); m != nil {
			name = m[1]
			continue
		}
		if name != "" && strings.HasPrefix(line, "    \t") {
			flags[name] += strings.TrimSpace(line)
		}
	}
	if len(flags) == 0 {
		t.Fatalf("no flags in the help of %v:\n%s", args, out)
	}
	return flags
}

// TestSharedFlagsHaveOneHelp: an option two commands share is declared
// once, so every command prints the same help for it (issue 26); the
// flags whose meaning is the command's own (its directory, its length, its
// seed, how it resumes) are left out.
func TestSharedFlagsHaveOneHelp(t *testing.T) {
	// Each command's own: its directory, length, seed, envs, agent, task
	// and inputs; bench update's --hidden is the one width of its MLP
	// workload, as bench/ppo_update_torch.py takes it.
	own := map[string]bool{"out": true, "resume": true, "steps": true, "seed": true, "envs": true, "checkpoint": true, "env": true,
		"traj": true, "hidden": true}
	cmds := [][]string{{"train"}, {"refine"}, {"experiment"}, {"annotate"}, {"sweep", "unit"}, {"bench", "update"}, {"report"}}
	helps := make([]map[string]string, len(cmds))
	for i, c := range cmds {
		helps[i] = helpOf(t, c...)
	}
	shared := 0
	for i := range cmds {
		for j := i + 1; j < len(cmds); j++ {
			for name, a := range helps[i] {
				b, ok := helps[j][name]
				if !ok || own[name] {
					continue
				}
				shared++
				if a != b {
					t.Errorf("--%s: %v says %q, %v says %q", name, cmds[i], a, cmds[j], b)
				}
			}
		}
	}
	if shared < 20 {
		t.Errorf("only %d shared flag pairs: the commands should share the run, device and advisor groups", shared)
	}
	// The advisor group's static texts name what the engine defines.
	adv := helps[3]["advisor"]
	for _, name := range experiment.AdvisorNames {
		if !strings.Contains(name, "-") && !strings.Contains(adv, name) {
			t.Errorf("--advisor's help %q does not name %s", adv, name)
		}
	}
	m := regexp.MustCompile(`else (\d+m)\)`).FindStringSubmatch(helps[3]["llm-deadline"])
	if d, err := time.ParseDuration(m[len(m)-1]); m == nil || err != nil || d != llm.DefaultConfig().Deadline {
		t.Errorf("--llm-deadline's help %q names another default than %v", helps[3]["llm-deadline"], llm.DefaultConfig().Deadline)
	}
}

// TestResumeRefusesFixedFlags: a resumed run refuses the options it
// cannot change, naming them; those marked resume:"ok" pass the check.
func TestResumeRefusesFixedFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--out", dir, "--resume", "--learning-rate", "0.1", "--hidden", "32"}, "--hidden, --learning-rate cannot change"},
		{[]string{"refine", "--out", dir, "--resume", "--alpha", "0.3"}, "--alpha cannot change"},
	} {
		out, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error saying %q\n%s", tc.args, err, tc.want, out)
		}
	}
	// Resumable options get past the check to the missing run.
	for _, args := range [][]string{
		{"train", "--out", dir, "--resume", "--steps", "4096", "--device", "cpu", "--progress", "log", "--checkpoint-every", "2"},
		{"refine", "--out", dir, "--resume", "--steps", "4096", "--log-format", "json", "--shutdown-timeout", "5s"},
	} {
		if _, err := runCLI(t, args...); err == nil || strings.Contains(err.Error(), "cannot change") {
			t.Errorf("%v: %v, want the missing run, not a refused flag", args, err)
		}
	}
}
