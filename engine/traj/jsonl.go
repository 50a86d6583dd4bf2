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
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
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
	for i := range trajs {
		if err := trajs[i].Validate(spec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
	}
	return trajs, nil
}
