package ultra

import (
	"fmt"
	"strings"
)

// Variant names a refinement variant (the paper's names, and this
// project's additions).
type Variant string

// The refinement variants; what each does is its row in the table of
// behaviours (Variant.Behaviour).
const (
	PPO         Variant = "ppo"           // plain PPO continued from the checkpoint
	UltraA      Variant = "ultra-a"       // take the suggested action at matched critical states
	UltraR      Variant = "ultra-r"       // add alpha × r_llm to the reward at matched critical states
	UltraRA     Variant = "ultra-ra"      // both
	UltraRARICE Variant = "ultra-ra+rice" // ultra-ra with RICE's restarts at the annotated states
	UltraI      Variant = "ultra-i"       // imitate the suggested action at the annotated states (ours)
	UltraIA     Variant = "ultra-ia"      // ultra-i with the implicit reward (ours)
	Random      Variant = "random"        // ultra-ra over random states, the advisor judging them
	RandomAll   Variant = "random-all"    // ultra-ra over random states with random actions and rewards
	RICE        Variant = "rice"          // restarts at critical states and an RND bonus everywhere
	LLMRND      Variant = "llm-rnd"       // alpha × RND novelty at matched critical states
	RNDOnly     Variant = "rnd"           // alpha × RND novelty everywhere
	Placebo     Variant = "placebo"       // ultra-r with alpha = PlaceboAlpha
)

// PlaceboAlpha is the placebo's weight of the implicit reward: 1e-6, a
// millionth of a reward that is at most 1 in size.
const PlaceboAlpha = 1e-6

// AdvisorUse says whose annotations a variant's table holds, relative to
// the advisor an experiment chose.
type AdvisorUse int

const (
	// NoAdvisor: the variant needs no critical states.
	NoAdvisor AdvisorUse = iota
	// ChosenAdvisor: the chosen advisor's critical states and suggestions.
	ChosenAdvisor
	// ChosenJudgesRandom: random states, judged by the chosen advisor
	// ("random-" + its name): the paper's identification ablation.
	ChosenJudgesRandom
	// RandomAdvisor: the all-random advisor (random states, actions and
	// rewards), whatever advisor was chosen.
	RandomAdvisor
)

// Novelty says where a variant adds alpha × the RND novelty of the state.
type Novelty int

const (
	NoNovelty         Novelty = iota
	NoveltyAtCritical         // at matched critical states, instead of the advisor's reward
	NoveltyEverywhere         // at every state, with no table lookup
)

// Behaviour is what a variant does: one row of the table of variants. The
// modulator, the setup, the experiment and the report read it; no code
// lists variant names to decide behaviour.
type Behaviour struct {
	// Advisor says whose critical states the table holds.
	Advisor AdvisorUse
	// Overrides: executes the suggested action at matched states (with
	// the annealed Settings.OverrideProb).
	Overrides bool
	// Rewards: adds alpha × the advisor's implicit reward at matched
	// states (Settings.RewardOn says which action it judges).
	Rewards bool
	// Novelty: where alpha × the RND novelty is added.
	Novelty Novelty
	// Resets: restarts a Settings.ResetProb share of episodes at critical
	// states' simulator snapshots (RICE's mixed initial distribution).
	Resets bool
	// Imitates: adds the behaviour-cloning term (Settings.Imitation) toward
	// the suggested actions at the annotated states to the PPO loss.
	Imitates bool
	// Alpha, when > 0, replaces Settings.Alpha (the placebo's).
	Alpha float64
	// Ours marks this project's extensions, which every table labels as
	// not the paper's method.
	Ours bool
	// Doc is the one-line description help and reports print.
	Doc string
}

// variantTable is every variant's behaviour, in report order. Adding a
// variant is one row here (and its test).
var variantTable = []struct {
	v Variant
	b Behaviour
}{
	{PPO, Behaviour{Doc: "plain PPO continued from the checkpoint"}},
	{UltraA, Behaviour{Advisor: ChosenAdvisor, Overrides: true, Doc: "executes the suggested action at matched critical states"}},
	{UltraR, Behaviour{Advisor: ChosenAdvisor, Rewards: true, Doc: "adds alpha × the implicit reward at matched critical states"}},
	{UltraRA, Behaviour{Advisor: ChosenAdvisor, Overrides: true, Rewards: true, Doc: "ultra-a and ultra-r together"}},
	{UltraRARICE, Behaviour{Advisor: ChosenAdvisor, Overrides: true, Rewards: true, Resets: true, Ours: true,
		Doc: "ultra-ra, with episodes restarted at the annotated states"}},
	{UltraI, Behaviour{Advisor: ChosenAdvisor, Imitates: true, Ours: true,
		Doc: "a behaviour-cloning term toward the suggested actions at the annotated states"}},
	{UltraIA, Behaviour{Advisor: ChosenAdvisor, Imitates: true, Rewards: true, Ours: true, Doc: "ultra-i and ultra-r together"}},
	{Random, Behaviour{Advisor: ChosenJudgesRandom, Overrides: true, Rewards: true,
		Doc: "ultra-ra over random states, the advisor judging them (the paper's identification ablation)"}},
	{RandomAll, Behaviour{Advisor: RandomAdvisor, Overrides: true, Rewards: true, Ours: true,
		Doc: "ultra-ra over random states with random actions and rewards"}},
	{RICE, Behaviour{Advisor: ChosenAdvisor, Novelty: NoveltyEverywhere, Resets: true,
		Doc: "RICE: restarts at critical states and alpha × RND novelty everywhere"}},
	{LLMRND, Behaviour{Advisor: ChosenAdvisor, Novelty: NoveltyAtCritical,
		Doc: "alpha × RND novelty at matched critical states instead of the advisor's reward (the paper's reward baseline)"}},
	{RNDOnly, Behaviour{Novelty: NoveltyEverywhere, Ours: true, Doc: "alpha × RND novelty at every state, no critical states"}},
	{Placebo, Behaviour{Advisor: ChosenAdvisor, Rewards: true, Alpha: PlaceboAlpha, Ours: true,
		Doc: "ultra-r at alpha 1e-6: what noise alone does, through the whole machinery"}},
}

// Variants lists every variant in report order.
var Variants = func() []Variant {
	out := make([]Variant, len(variantTable))
	for i, row := range variantTable {
		out[i] = row.v
	}
	return out
}()

// ParseVariant checks a variant name.
func ParseVariant(s string) (Variant, error) {
	for _, row := range variantTable {
		if string(row.v) == s {
			return row.v, nil
		}
	}
	return "", fmt.Errorf("unknown variant %q: valid variants are %s", s, VariantNames())
}

// VariantNames lists the variants, comma-separated, for messages and help.
func VariantNames() string { return joinNames(Variants) }

// joinNames lists names, comma-separated, for messages.
func joinNames[T ~string](xs []T) string {
	names := make([]string, len(xs))
	for i, x := range xs {
		names[i] = string(x)
	}
	return strings.Join(names, ", ")
}

// Behaviour is v's row of the table of variants (the zero Behaviour, which
// does nothing, for a name that is not a variant: ParseVariant first).
func (v Variant) Behaviour() Behaviour {
	for _, row := range variantTable {
		if row.v == v {
			return row.b
		}
	}
	return Behaviour{}
}

// NeedsStates reports whether the variant needs critical states (from
// annotations or a live advisor).
func (v Variant) NeedsStates() bool { return v.Behaviour().Advisor != NoAdvisor }

// Modulates reports whether the variant consults the trainer's per-step
// modulator at all.
func (b Behaviour) Modulates() bool { return b.Advisor != NoAdvisor || b.Novelty != NoNovelty }

// Acts reports whether a table match changes the run: an override, a bonus
// or a novelty bonus at matched states (what a dose of matches can move).
func (b Behaviour) Acts() bool { return b.Overrides || b.Rewards || b.Novelty == NoveltyAtCritical }

// AlphaOf is the bonus weight the variant runs with under s.
func (b Behaviour) AlphaOf(s Settings) float64 {
	if b.Alpha > 0 {
		return b.Alpha
	}
	return s.Alpha
}

// AdvisorName names the advisor whose annotations the variant uses when
// an experiment chose the advisor named chosen: "" for none,
// "random-"+chosen for random states judged by it, "random" for the
// all-random advisor, chosen otherwise.
func (b Behaviour) AdvisorName(chosen string) string {
	switch b.Advisor {
	case NoAdvisor:
		return ""
	case ChosenJudgesRandom:
		return "random-" + chosen
	case RandomAdvisor:
		return "random"
	}
	return chosen
}
