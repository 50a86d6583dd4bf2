package run

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLock: a second holder of a run directory is refused with the
// holder's PID; after Release the directory can be taken again.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	if err == nil || !strings.Contains(err.Error(), "in use by process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Acquire: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
	if _, err := Acquire(filepath.Join(dir, "missing")); err == nil {
		t.Error("Acquire of a missing directory: no error")
	}
}
