// Package interrupt turns SIGINT and SIGTERM into a graceful stop, and a
// second one into an immediate exit.
//
// Long commands (train, refine, experiment) stop at the first signal by
// finishing or abandoning the running iteration and writing a checkpoint,
// which can take up to their shutdown timeout. A user who presses Ctrl-C
// again does not want to wait for that: the second signal exits at once
// with status 130. Nothing is lost that a crash would not lose: checkpoints
// and results are written atomically, so the last one on disk is intact.
package interrupt

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// ExitCode is the status of a forced exit (128 + SIGINT, as shells report).
const ExitCode = 130

// exit is os.Exit; tests replace it.
var exit = os.Exit

// Context returns a context cancelled by the first SIGINT or SIGTERM; a
// second one exits the process with ExitCode. Both are announced on w.
// Call stop when the command is done to restore the default handling.
func Context(w io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			fmt.Fprintf(w, "ultra: %v: stopping after the running iteration and writing a checkpoint; interrupt again to quit at once\n", s)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sig:
			fmt.Fprintf(w, "ultra: second %v: quitting now; the last checkpoint on disk is intact\n", s)
			exit(ExitCode)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sig)
		close(done)
		cancel()
	}
}
