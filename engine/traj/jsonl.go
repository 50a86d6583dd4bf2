package traj

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/ultra-rl/ultra/engine/env"
)

// WriteJSONL writes one JSON object per line.
func WriteJSONL[T any](w io.Writer, items []T) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range items {
		if err := enc.Encode(&items[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadJSONL reads a file of one JSON object per line; errors name the line.
func ReadJSONL[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeJSONL[T](f, path)
}

// maxLine bounds one JSON line (one trajectory): 1 GiB, a 5-million-step
// episode with snapshots.
const maxLine = 1 << 30

// DecodeJSONL reads one JSON object per line from r; blank lines are
// skipped and errors name the line as name:line.
func DecodeJSONL[T any](r io.Reader, name string) ([]T, error) {
	var out []T
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// ReadFor reads trajectories of spec's task from path, checking each one
// (Validate): every reader of trajectory files goes through it, so a file of
// another task, or with inconsistent sizes, is an error naming the line.
func ReadFor(path string, spec env.Spec) ([]Trajectory, error) {
	trajs, err := ReadJSONL[Trajectory](path)
	if err != nil {
		return nil, err
	}
	if len(trajs) == 0 {
		return nil, fmt.Errorf("%s holds no trajectories", path)
	}
	snapLen := -1 // the task's snapshot length, learnt on the first snapshot
	for i := range trajs {
		if err := trajs[i].Validate(spec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		if len(trajs[i].Snapshots) == 0 {
			continue
		}
		if snapLen < 0 {
			if snapLen, err = env.SnapshotLen(spec); err != nil {
				return nil, err
			}
		}
		if got := len(trajs[i].Snapshots[0]); got != snapLen {
			return nil, fmt.Errorf("%s:%d: trajectory %s: snapshots have %d values, %s's have %d", path, i+1, trajs[i].ID, got, spec.ID, snapLen)
		}
	}
	return trajs, nil
}
