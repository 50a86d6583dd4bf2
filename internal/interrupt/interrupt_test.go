package interrupt

import (
	"bytes"
	"sync"
	"syscall"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecondSignalExits covers issue 14's finding 13 (a second Ctrl-C must
// force quit): the first signal cancels the context, the second exits.
func TestSecondSignalExits(t *testing.T) {
	exited := make(chan int, 1)
	exit = func(code int) { exited <- code }
	defer func() { exit = nil }()
	var out syncBuf
	ctx, stop := Context(&out)
	defer stop()

	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the first SIGINT did not cancel the context")
	}
	select {
	case code := <-exited:
		t.Fatalf("exited (%d) after one signal", code)
	case <-time.After(50 * time.Millisecond):
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case code := <-exited:
		if code != ExitCode {
			t.Fatalf("exit code %d, want %d", code, ExitCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second signal did not exit")
	}
	if s := out.String(); !bytes.Contains([]byte(s), []byte("interrupt again to quit at once")) || !bytes.Contains([]byte(s), []byte("quitting now")) {
		t.Errorf("messages: %q", s)
	}
}

func TestStopRestoresDefaultHandling(t *testing.T) {
	ctx, stop := Context(&syncBuf{})
	stop()
	if ctx.Err() == nil {
		t.Fatal("stop must cancel the context")
	}
}
