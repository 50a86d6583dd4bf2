package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file in a run directory that the process using it holds
// an exclusive lock on (flock), with its PID inside.
const LockFile = ".lock"

// Lock is a held lock on a run directory.
type Lock struct {
	f *os.File
}

// Acquire takes the exclusive lock on dir (which must exist), so that no
// two processes write one run: a second one is refused with the holder's
// PID. The lock is the kernel's, so it is released when the process exits,
// however it exits. A file system without locking (some NFS mounts) is an
// error saying so, not a silent pass.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	l, holder, err := tryLock(path)
	if err == nil && l == nil {
		return nil, fmt.Errorf("%s is in use by %s (it holds %s): wait for it to finish, or use another directory", dir, holder, path)
	}
	return l, err
}

// AcquireFile takes the exclusive lock on the file path (created if need
// be), waiting up to wait for a process that holds it (0: not at all);
// what names what the lock guards, for the message when the wait runs out,
// and logger (nil: slog's default) says once that it waits. A lock left by
// a process that died is the kernel's to release, so it is taken at once.
// Cancelling ctx ends the wait with ctx's error (a preempted unit stops
// within its shutdown timeout, not after the wait).
func AcquireFile(ctx context.Context, path string, wait time.Duration, what string, logger *slog.Logger) (*Lock, error) {
	if logger == nil {
		logger = slog.Default()
	}
	deadline := time.Now().Add(wait)
	logged := false
	for {
		l, holder, err := tryLock(path)
		if err != nil || l != nil {
			return l, err
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("waited %v for %s to finish %s (it holds %s): check that process, or wait longer", wait, holder, what, path)
		}
		if !logged {
			logger.Info("waiting for another process", "holder", holder, "for", what, "lock", path)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(time.Second, time.Until(deadline))):
		}
	}
}

// tryLock takes the lock on path without waiting; held by another
// process, it returns a nil Lock and the holder's description.
func tryLock(path string) (*Lock, string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			holder := "another process"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf("process %d", pid)
			}
			return nil, holder, nil
		}
		return nil, "", fmt.Errorf("cannot lock %s (%v): this file system does not support locks (some NFS mounts); put runs on a local or lock-capable volume", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, "", nil
}

// Release drops the lock; it is idempotent.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err = errors.Join(err, l.f.Close())
	l.f = nil
	return err
}
