//go:build race

package nn

// raceEnabled reports whether the race detector is on (it allocates, so
// allocation counts are meaningless under it).
const raceEnabled = true
