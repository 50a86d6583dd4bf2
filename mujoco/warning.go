package mujoco

// #include <mujoco/mujoco.h>
import "C"

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

var warningHandler atomic.Pointer[func(string)]

// SetWarningHandler replaces the process-wide receiver of MuJoCo's warning
// messages. MuJoCo prints a warning's text only the first time it occurs in a
// Data; per-step warnings are reported through [Data.Step] regardless. A nil
// handler restores the default, which logs with log/slog at level Warn.
func SetWarningHandler(h func(msg string)) {
	if h == nil {
		warningHandler.Store(nil)
		return
	}
	warningHandler.Store(&h)
}

//export ultraGoWarning
func ultraGoWarning(msg *C.char) {
	text := strings.TrimSpace(C.GoString(msg))
	if h := warningHandler.Load(); h != nil {
		(*h)(text)
		return
	}
	defaultWarning(text)
}

var (
	warnMu     sync.Mutex
	warnCounts = map[string]int64{}
)

// defaultWarning logs each distinct message the first time and then every
// 1000th time with its count, so a recurring warning (MuJoCo repeats it on
// every step that raises it) cannot flood the log of a long run.
func defaultWarning(text string) {
	warnMu.Lock()
	warnCounts[text]++
	n := warnCounts[text]
	warnMu.Unlock()
	if n == 1 || n%1000 == 0 {
		slog.Warn("mujoco warning", "msg", text, "count", n)
	}
}
