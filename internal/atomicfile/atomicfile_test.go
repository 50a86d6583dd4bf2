package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteKeepsOldFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.bin")
	if err := Write(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A disk that fills up halfway through the write.
	orig := writeTemp
	writeTemp = func(f *os.File, data []byte) error {
		f.Write(data[:len(data)/2])
		return syscall.ENOSPC
	}
	defer func() { writeTemp = orig }()
	err := Write(path, []byte("new content"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("want ENOSPC, got %v", err)
	}
	// Issue 14, finding 13: the message named the temporary file twice.
	if want := "write " + path + ": no space left on device (the previous content, if any, is unchanged)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("old content lost: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary file left behind: %v", ents)
	}
}
