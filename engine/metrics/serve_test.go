package metrics

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
)

// TestServeDefault: the default address falls back to a free port of the
// same host when its port is busy, and says so; Serve keeps to the
// address it is given (issue 30, rough edge 8).
func TestServeDefault(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busyAddr := taken.Addr().String()
	for _, tc := range []struct {
		name, addr string
		busy       bool
		wantErr    string
	}{
		{"free", "127.0.0.1:0", false, ""},
		{"busy", busyAddr, true, ""},
		{"not an address", "nohost:x", false, "listen on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv, busy, err := ServeDefault(ctx, tc.addr, Registry())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || busy != tc.busy {
				t.Fatalf("busy %v, err %v; want busy %v", busy, err, tc.busy)
			}
			if srv.Addr == busyAddr || !strings.HasPrefix(srv.Addr, "127.0.0.1:") {
				t.Errorf("served on %s (busy: %s)", srv.Addr, busyAddr)
			}
		})
	}
	if _, err := Serve(context.Background(), busyAddr, Registry()); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Serve on a busy address: %v, want EADDRINUSE", err)
	}
}
