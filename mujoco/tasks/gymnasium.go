package tasks

import "github.com/ultra-rl/ultra/engine/env"

// gymnasium is the one table of the tasks' Gymnasium names: the id each
// task implements (v4, whose semantics the defaults follow), which the
// registry accepts as an alias, and what Gymnasium's v5 of it changes,
// which the registry answers its v5 id with. Specs applies it.
var gymnasium = map[string]struct{ v4, v5, v5Differs string }{
	"hopper": {"Hopper-v4", "Hopper-v5",
		"Gymnasium's Hopper-v5 pays the healthy reward only while the hopper is healthy, where v4 (which ultra's hopper implements) pays it on the step that ends the episode too"},
	"walker2d": {"Walker2d-v4", "Walker2d-v5",
		"Gymnasium's Walker2d-v5 gives both feet friction 1.9 (v4, which ultra's walker2d implements: 0.9 right, 1.9 left) and pays the healthy reward only while the walker is healthy, where v4 pays it on the step that ends the episode too"},
	"halfcheetah": {"HalfCheetah-v4", "HalfCheetah-v5",
		"Gymnasium's HalfCheetah-v5 keeps v4's dynamics and reward but is another id with other info keys and arguments; ultra's halfcheetah implements v4"},
	"ant": {"Ant-v4", "Ant-v5",
		"Gymnasium's Ant-v5 always charges the contact cost, observes the contact forces by default and pays the healthy reward only while the ant is healthy; v4, which ultra's ant implements, does none of these by default"},
}

// withGymnasiumNames returns s with its Gymnasium alias and refused v5 id.
func withGymnasiumNames(s env.Spec) env.Spec {
	if g, ok := gymnasium[s.ID]; ok {
		s.Aliases = append(s.Aliases, g.v4)
		s.Refuses = map[string]string{g.v5: g.v5Differs}
	}
	return s
}
