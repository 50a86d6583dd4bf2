package interpret

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoAdvisorDependency guards the layering: the interpretation reads
// trajectories (engine/traj), not the advisors that consume its text.
func TestNoAdvisorDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list is not available here: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/ultra-rl/ultra/engine/advisor") {
			t.Errorf("engine/interpret depends on %s", dep)
		}
	}
}
