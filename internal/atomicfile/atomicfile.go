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

// writeTemp writes data to the temporary file (Commit syncs it); tests
// replace it to inject failures such as a full disk.
var writeTemp = func(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}

// Write replaces path with data so that readers see either the
// old or the new content, never a mix, even across a crash. An error names
// path once, says what failed ("no space left on device") and that the
// previous content is unchanged; the temporary file is removed.
func Write(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if err := writeTemp(f.File, data); err != nil {
		f.Abort()
		return failed(path, err)
	}
	return f.Commit()
}

// File is the new content of a path, written (streamed, or by another
// program through Name) under a temporary name beside it: Commit puts it
// in place as Write does, Abort throws it away. Exactly one of the two
// must be called.
type File struct {
	*os.File
	path string
}

// Create starts the new content of path.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, failed(path, err)
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes 0600 files; outputs are meant to be shared
		f.Close()
		os.Remove(f.Name())
		return nil, failed(path, err)
	}
	return &File{File: f, path: path}, nil
}

// Commit syncs the file, closes it and renames it over the path; on an
// error the temporary file is removed and the path left as it was.
func (f *File) Commit() (err error) {
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.File.Close()
			os.Remove(tmp)
			err = failed(f.path, err)
		}
	}()
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.File.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, f.path); err != nil {
		return err
	}
	if d, derr := os.Open(filepath.Dir(f.path)); derr == nil {
		d.Sync() // best effort: makes the rename durable where supported
		d.Close()
	}
	return nil
}

// Abort closes and removes the temporary file.
func (f *File) Abort() {
	f.File.Close()
	os.Remove(f.Name())
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
