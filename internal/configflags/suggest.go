package configflags

import (
	"fmt"
	"slices"
	"strings"
)

// otherNames maps the option names of CleanRL's PPO scripts and of
// Stable-Baselines3 (hyphenated, as their command lines and, with
// underscores, their YAML files spell them) to ultra's, with what differs.
var otherNames = map[string]struct{ name, note string }{
	"total-timesteps": {"steps", "CleanRL's and SB3's total-timesteps"},
	"num-envs":        {"envs", "CleanRL's num-envs"},
	"n-envs":          {"envs", "SB3's n-envs"},
	"env-id":          {"env", "CleanRL's env-id"},
	"cuda":            {"device", "CleanRL's cuda: device cuda"},
	"n-steps":         {"num-steps", "SB3's n-steps"},
	"n-epochs":        {"update-epochs", "SB3's n-epochs"},
	"clip-range":      {"clip-coef", "SB3's clip-range"},
	"batch-size":      {"num-minibatches", "SB3's batch-size is the minibatch size; ultra divides envs × num-steps into num-minibatches"},
	"minibatch-size":  {"num-minibatches", "ultra divides envs × num-steps into num-minibatches"},
}

// Suggest names the option of known that an unknown name most likely
// means: the same name with hyphens for underscores, CleanRL's or SB3's
// name of it, or a near spelling. prefix is how the names are written
// ("--" for flags, "" for YAML keys). It returns "" when nothing is close.
func Suggest(name string, known []string, prefix string) string {
	has := func(k string) bool { return slices.Contains(known, k) }
	norm := strings.ToLower(strings.ReplaceAll(strings.TrimLeft(name, "-"), "_", "-"))
	if norm != name && has(norm) {
		return fmt.Sprintf("ultra spells it %s%s (hyphens, not underscores)", prefix, norm)
	}
	if o, ok := otherNames[norm]; ok && has(o.name) {
		return fmt.Sprintf("ultra's name is %s%s (%s)", prefix, o.name, o.note)
	}
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(norm, k); d < bestD && d <= len(k)/3 {
			best, bestD = k, d
		}
	}
	if best != "" {
		return "did you mean " + prefix + best + "?"
	}
	return ""
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
