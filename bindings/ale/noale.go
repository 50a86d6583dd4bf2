//go:build !ale

package ale

import (
	"fmt"

	"github.com/ultra-rl/ultra/engine/env"
)

// Available reports whether this build has the ALE binding.
const Available = false

// Resolve, in a build without the `ale` tag, checks the id and explains how
// to get the binding.
func Resolve(id string) (env.Spec, error) {
	if _, _, err := ParseID(id); err != nil {
		return env.Spec{}, err
	}
	return env.Spec{}, fmt.Errorf("env %q: Atari games through ALE are not in this build: install the Arcade Learning "+
		"Environment's C++ library (docs/building.md, \"Atari through ALE\") and build with `go build -tags ale ./cmd/ultra`; "+
		"the native `pong` and `pong-pixels` envs need neither", id)
}

// Version is "" in a build without the binding.
func Version() string { return "" }
