package interpret

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies guards the layering: the interpretation reads
// trajectories (engine/traj) and task descriptions (engine/env), not the
// advisors that consume its text, and neither it nor the LLM advisor (an
// HTTP client) links a simulator: MuJoCo (cgo) or the Pong game. What they
// need of a task is in its description.
func TestDependencies(t *testing.T) {
	const module = "github.com/ultra-rl/ultra/"
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{".", []string{"engine/advisor", "mujoco", "engine/pong", "bindings"}},
		{"../advisor/llm", []string{"mujoco", "engine/pong", "bindings"}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
			if err != nil {
				t.Skipf("go list is not available here: %v", err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tc.forbidden {
					if dep == module+f || strings.HasPrefix(dep, module+f+"/") {
						t.Errorf("%s depends on %s", tc.pkg, dep)
					}
				}
			}
		})
	}
}
