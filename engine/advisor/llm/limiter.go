package llm

import (
	"context"
	"sync"
	"time"
)

// bucket is a context-aware token bucket holding at most capacity tokens
// and refilled at rate tokens per second. A nil *bucket never waits.
// The level may go negative through adjust (a request that used more tokens
// than it reserved), which delays later requests accordingly.
type bucket struct {
	mu       sync.Mutex
	capacity float64
	rate     float64 // tokens per second
	level    float64
	last     time.Time
	now      func() time.Time
}

// newBucket returns a bucket refilled with perMinute tokens a minute, full
// at the start, or nil for perMinute <= 0 (unlimited).
func newBucket(perMinute int) *bucket {
	if perMinute <= 0 {
		return nil
	}
	c := float64(perMinute)
	return &bucket{capacity: c, rate: c / 60, level: c, last: time.Now(), now: time.Now}
}

func (b *bucket) refill() {
	t := b.now()
	if d := t.Sub(b.last).Seconds(); d > 0 {
		b.level = min(b.capacity, b.level+d*b.rate)
	}
	b.last = t
}

// wait takes n tokens, sleeping until they are there or ctx is done, and
// returns how many it took: n is capped at the capacity so one oversized
// request cannot wait forever. Sleeps last at most a second, so tokens given
// back by adjust are noticed.
func (b *bucket) wait(ctx context.Context, n float64) (float64, error) {
	if b == nil || n <= 0 {
		return 0, nil
	}
	n = min(n, b.capacity)
	for {
		b.mu.Lock()
		b.refill()
		if b.level >= n {
			b.level -= n
			b.mu.Unlock()
			return n, nil
		}
		d := time.Duration((n - b.level) / b.rate * float64(time.Second))
		b.mu.Unlock()
		if err := sleep(ctx, min(max(d, time.Millisecond), time.Second)); err != nil {
			return 0, err
		}
	}
}

// adjust takes delta more tokens (gives back for negative delta).
func (b *bucket) adjust(delta float64) {
	if b == nil || delta == 0 {
		return
	}
	b.mu.Lock()
	b.refill()
	b.level = min(b.capacity, b.level-delta)
	b.mu.Unlock()
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
