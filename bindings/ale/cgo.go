//go:build ale

package ale

/*
#cgo CXXFLAGS: -std=c++17 -O2
#cgo LDFLAGS: -lale -lz -lstdc++ -lm -lpthread
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Screen geometry of every game under ALE.
const (
	ScreenH = C.ULTRA_ALE_H
	ScreenW = C.ULTRA_ALE_W
)

// Emulator is one ALE instance running one ROM: the thin Go face of the
// C++ shim. It is used by one goroutine at a time.
type Emulator struct {
	p       *C.ultra_ale
	rom     string
	actions []int
	errBuf  [512]byte
	out     [2]C.int // Step's reward and game-over outputs (fields, so no allocation per call)
}

// Version is the ALE version the binding was compiled against.
func Version() string { return C.GoString(C.ultra_ale_version()) }

// OpenOptions are the emulator settings fixed when a ROM is loaded.
type OpenOptions struct {
	StickyProb float64 // ALE's repeat_action_probability
	Seed       int     // ALE's random_seed (the sticky-action generator until the first Reset)
	Mode       int     // game mode, -1 for the default
	Difficulty int     // difficulty, -1 for the default
}

// Open loads rom. A missing file, or a ROM ALE does not support, is an
// error (ALE itself would exit the process on the latter).
func Open(rom string, o OpenOptions) (*Emulator, error) {
	e := &Emulator{rom: rom}
	cs := C.CString(rom)
	defer C.free(unsafe.Pointer(cs))
	e.p = C.ultra_ale_open(cs, C.float(o.StickyProb), C.int(o.Seed), C.int(o.Mode), C.int(o.Difficulty), e.errp(), C.size_t(len(e.errBuf)))
	if e.p == nil {
		return nil, fmt.Errorf("ale: open %s: %s", rom, e.lastErr())
	}
	n := int(C.ultra_ale_minimal_actions(e.p, nil, 0))
	ids := make([]C.int, n)
	if n > 0 {
		C.ultra_ale_minimal_actions(e.p, &ids[0], C.int(n))
	}
	e.actions = make([]int, n)
	for i, a := range ids {
		e.actions[i] = int(a)
	}
	runtime.SetFinalizer(e, (*Emulator).Close)
	return e, nil
}

func (e *Emulator) errp() *C.char { return (*C.char)(unsafe.Pointer(&e.errBuf[0])) }

func (e *Emulator) lastErr() string {
	for i, b := range e.errBuf {
		if b == 0 {
			return string(e.errBuf[:i])
		}
	}
	return string(e.errBuf[:])
}

// ErrClosed is returned by an Emulator used after Close.
var ErrClosed = errors.New("ale: emulator is closed")

// Close frees the emulator; it is safe to call twice.
func (e *Emulator) Close() error {
	if e.p != nil {
		C.ultra_ale_close(e.p)
		e.p = nil
		runtime.SetFinalizer(e, nil)
	}
	return nil
}

// MinimalActions returns the ALE action ids of the game's minimal action
// set (index = the env's discrete action).
func (e *Emulator) MinimalActions() []int { return e.actions }

// Reset reseeds the sticky-action generator with seed and resets the game.
func (e *Emulator) Reset(seed uint32) error {
	if e.p == nil {
		return ErrClosed
	}
	if C.ultra_ale_reset(e.p, C.uint32_t(seed), e.errp(), C.size_t(len(e.errBuf))) != 0 {
		return fmt.Errorf("ale: reset %s: %s", e.rom, e.lastErr())
	}
	return nil
}

// Step applies ALE action id action for up to skip frames (fewer when the
// game ends) in one cgo call. gray, when not nil (ScreenH*ScreenW bytes),
// receives the pixel-wise maximum of the grayscale screens of the last two
// frames; ram, when not nil (RAMSize bytes), the RAM after the step.
func (e *Emulator) Step(action, skip int, gray, ram []byte) (reward, frames int, over bool, err error) {
	if e.p == nil {
		return 0, 0, false, ErrClosed
	}
	var gp, rp *C.uint8_t
	if gray != nil {
		_ = gray[ScreenH*ScreenW-1]
		gp = (*C.uint8_t)(unsafe.Pointer(&gray[0]))
	}
	if ram != nil {
		_ = ram[RAMSize-1]
		rp = (*C.uint8_t)(unsafe.Pointer(&ram[0]))
	}
	n := C.ultra_ale_step(e.p, C.int(action), C.int(skip), &e.out[0], &e.out[1], gp, rp, e.errp(), C.size_t(len(e.errBuf)))
	if n < 0 {
		return 0, 0, false, fmt.Errorf("ale: step %s: %s", e.rom, e.lastErr())
	}
	return int(e.out[0]), int(n), e.out[1] != 0, nil
}

// ScreenRGB writes the current screen as ScreenH×ScreenW RGB triples,
// row-major, into dst (resized as needed) and returns it.
func (e *Emulator) ScreenRGB(dst []byte) []byte {
	dst = resize(dst, ScreenH*ScreenW*3)
	C.ultra_ale_screen_rgb(e.p, (*C.uint8_t)(unsafe.Pointer(&dst[0])))
	return dst
}

// ScreenGray writes the current screen in ALE's grayscale.
func (e *Emulator) ScreenGray(dst []byte) []byte {
	dst = resize(dst, ScreenH*ScreenW)
	C.ultra_ale_screen_gray(e.p, (*C.uint8_t)(unsafe.Pointer(&dst[0])))
	return dst
}

// RAM writes the 128 RAM bytes.
func (e *Emulator) RAM(dst []byte) []byte {
	dst = resize(dst, RAMSize)
	C.ultra_ale_ram(e.p, (*C.uint8_t)(unsafe.Pointer(&dst[0])))
	return dst
}

// Frame is the number of frames since the episode started.
func (e *Emulator) Frame() int { return int(C.ultra_ale_frame(e.p)) }

// Clone serialises the full state, the sticky-action generator included,
// into dst (grown as needed) and returns it. With a buffer from an earlier
// Clone of the same game the state is serialised once.
func (e *Emulator) Clone(dst []byte) ([]byte, error) {
	if e.p == nil {
		return nil, ErrClosed
	}
	for {
		dst = dst[:cap(dst)]
		var p *C.uint8_t
		if len(dst) > 0 {
			p = (*C.uint8_t)(unsafe.Pointer(&dst[0]))
		}
		n := int(C.ultra_ale_clone(e.p, p, C.long(len(dst)), e.errp(), C.size_t(len(e.errBuf))))
		switch {
		case n < 0:
			return nil, fmt.Errorf("ale: clone %s: %s", e.rom, e.lastErr())
		case n <= len(dst):
			return dst[:n], nil
		}
		dst = make([]byte, n)
	}
}

// Restore sets the state from a Clone of the same ROM.
func (e *Emulator) Restore(state []byte) error {
	if e.p == nil {
		return ErrClosed
	}
	if len(state) == 0 {
		return fmt.Errorf("ale: restore %s: empty state", e.rom)
	}
	if C.ultra_ale_restore(e.p, (*C.uint8_t)(unsafe.Pointer(&state[0])), C.long(len(state)), e.errp(), C.size_t(len(e.errBuf))) != 0 {
		return fmt.Errorf("ale: restore %s: %s", e.rom, e.lastErr())
	}
	return nil
}

func resize(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
