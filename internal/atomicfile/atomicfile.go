// Package atomicfile writes files so that readers see the old or the new
// content, never a mix, even across a crash or a full disk: checkpoints,
// run configs, trajectories, annotations and reports all go through it.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// writeTemp writes data to the temporary file; tests replace it to inject
// failures such as a full disk.
var writeTemp = func(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// Write replaces path with data so that readers see either the
// old or the new content, never a mix, even across a crash. An error names
// path once, says what failed ("no space left on device") and that the
// previous content is unchanged; the temporary file is removed.
func Write(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return failed(path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o644); err != nil { // CreateTemp makes 0600 files; outputs are meant to be shared
		return failed(path, err)
	}
	if err = writeTemp(f, data); err != nil {
		return failed(path, err)
	}
	if err = f.Close(); err != nil {
		return failed(path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return failed(path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: makes the rename durable where supported
		d.Close()
	}
	return nil
}

// failed reports a failed Write of path. The operating system's errors name
// the temporary file (twice, once wrapped); only their cause is kept.
func failed(path string, err error) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("write %s: %w (the previous content, if any, is unchanged)", path, err)
}

// CheckOutput refuses an output path that would lose data: a directory, one
// of the inputs (the same file, under any name), or an existing file
// unless force is set.
func CheckOutput(path string, force bool, inputs ...string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("output %s is a directory; give a file name", path)
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		if ist, err := os.Stat(in); err == nil && os.SameFile(st, ist) {
			return fmt.Errorf("output %s is the input %s: choose another output file", path, in)
		}
	}
	if !force {
		return fmt.Errorf("output %s exists: choose another file, or pass --force to replace it", path)
	}
	return nil
}
