//go:build !ale

package ale

import (
	"strings"
	"testing"
)

func TestResolveWithoutTag(t *testing.T) {
	_, err := Resolve("ale:pong")
	if err == nil || !strings.Contains(err.Error(), "go build -tags ale") {
		t.Fatalf("error %v: want the build instructions", err)
	}
	if _, err := Resolve("ale:tetris"); err == nil || !strings.Contains(err.Error(), "ale:tetris-pixels") {
		t.Fatalf("error %v: a bad id is reported before the missing binding", err)
	}
}
