// Package memlimit checks a command's planned allocations against the memory
// the process may use, so that a size a user asked for (ten thousand
// environments, a 100 000-wide network, two billion episodes) is refused up
// front with the figure, instead of swapping the machine to a halt or ending
// in the Go runtime's fatal out-of-memory error.
//
// The limit is process-wide, like the Go runtime's own memory limit: by
// default it is what the machine (or the container's cgroup) has available
// when a check runs; ULTRA_MEMORY_LIMIT or [Set] replace it with a fixed
// figure, and "off" disables checking. Engine packages call [Check] with an
// [Estimate] before they allocate.
package memlimit

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// EnvVar names the environment variable that sets the limit (see [Parse]).
const EnvVar = "ULTRA_MEMORY_LIMIT"

// ErrExceeded is wrapped by the error [Check] returns when an estimate is
// over the limit.
var ErrExceeded = errors.New("not enough memory")

// Limit is a memory limit in bytes and where it came from.
type Limit struct {
	Bytes  int64  // the limit; ≤ 0 means none (no checking)
	Source string // e.g. "MemAvailable in /proc/meminfo", "ULTRA_MEMORY_LIMIT"
}

var (
	mu  sync.Mutex
	set *Limit // nil: detect at each check
)

// Set fixes the process-wide limit; a Limit with Bytes ≤ 0 turns checking
// off. Set(Limit{}) after [Reset] is not the same as Reset: Reset returns to
// detecting what is available.
func Set(l Limit) {
	mu.Lock()
	defer mu.Unlock()
	set = &l
}

// Reset returns to the default: ULTRA_MEMORY_LIMIT if set, else what the
// machine has available at each check.
func Reset() {
	mu.Lock()
	defer mu.Unlock()
	set = nil
}

// Current returns the limit a check made now would use.
func Current() (Limit, error) {
	mu.Lock()
	l := set
	mu.Unlock()
	if l != nil {
		return *l, nil
	}
	if s, ok := os.LookupEnv(EnvVar); ok {
		b, err := Parse(s)
		if err != nil {
			return Limit{}, fmt.Errorf("%s: %w", EnvVar, err)
		}
		return Limit{Bytes: b, Source: EnvVar}, nil
	}
	return Available(), nil
}

// Parse reads a size such as "8GiB", "512MiB", "1.5G", "2000000000" (bytes)
// or "off" (0: no limit). K, M, G, T and their -iB forms are powers of 1024.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	if t == "off" || t == "none" || t == "0" {
		return 0, nil
	}
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
		{"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
		{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("memory limit %q: want a size such as 8GiB, 512MiB or 2000000000 (bytes), or off", s)
	}
	return int64(v * mult), nil
}

// Estimate is what an allocation is expected to need.
type Estimate struct {
	Bytes int64
	What  string // what it is for, with the sizes it follows from
}

// Add returns e plus b, saturating instead of overflowing.
func (e Estimate) Add(b Estimate) Estimate {
	return Estimate{Bytes: SatAdd(e.Bytes, b.Bytes), What: join(e.What, b.What)}
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " + " + b
}

// Check returns an error wrapping [ErrExceeded] if e is over the current
// limit. The message gives both figures and what e is for, so that the
// caller knows which size to lower; the caller's own wrapping names the
// setting.
func Check(e Estimate) error {
	l, err := Current()
	if err != nil {
		return err
	}
	if l.Bytes <= 0 || e.Bytes <= l.Bytes {
		return nil
	}
	return fmt.Errorf("%w: %s needs about %s, more than the limit of %s (%s); ask for less, or set another limit with %s (\"off\" to disable the check)",
		ErrExceeded, e.What, Format(e.Bytes), Format(l.Bytes), l.Source, EnvVar)
}

// Format writes a size in the largest binary unit that keeps it ≥ 1.
func Format(b int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(b), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// SatMul returns a×b for non-negative a and b, or math.MaxInt64 when the
// product overflows: estimates of absurd sizes must not wrap to small ones.
func SatMul(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// SatAdd returns a+b for non-negative a and b, saturating at math.MaxInt64.
func SatAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Available is the memory this process can still take: the smaller of the
// kernel's MemAvailable and the room left under the cgroup's limit (v2
// memory.max, v1 memory.limit_in_bytes). Bytes is 0 (no checking) where
// neither can be read.
func Available() Limit {
	var best Limit
	consider := func(b int64, src string) {
		if b > 0 && (best.Bytes <= 0 || b < best.Bytes) {
			best = Limit{Bytes: b, Source: src}
		}
	}
	if b, ok := memAvailable("/proc/meminfo"); ok {
		consider(b, "MemAvailable in /proc/meminfo")
	}
	for _, c := range []struct{ max, cur, src string }{
		{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "the cgroup's memory.max less memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes", "the cgroup's memory.limit_in_bytes less usage"},
	} {
		maxB, ok1 := readInt(c.max)
		cur, ok2 := readInt(c.cur)
		if ok1 && ok2 && maxB < 1<<60 { // "max" or the v1 "unlimited" 2^63-4096
			consider(max(maxB-cur, 1), c.src)
		}
	}
	return best
}

func memAvailable(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return v << 10, true
				}
			}
		}
	}
	return 0, false
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}
