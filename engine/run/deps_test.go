package run

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoULTRADependency guards the layering: a plain training run (ultra
// train) does not depend on ULTRA's machinery or the advisors; they join
// the loop through Extension (issue 26).
func TestNoULTRADependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list is not available here: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"/engine/ultra", "/engine/advisor"} {
			if strings.HasPrefix(dep, "github.com/ultra-rl/ultra"+bad) {
				t.Errorf("engine/run depends on %s", dep)
			}
		}
	}
}
