//go:build race

package experiment

// raceEnabled reports whether the race detector is on (it slows the
// refinements of the resume test several times over).
const raceEnabled = true
