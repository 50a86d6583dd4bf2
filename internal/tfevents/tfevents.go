// Package tfevents writes TensorBoard event files: scalar summaries in
// TFRecord framing, readable by TensorBoard and by tf.data/tensorboard's own
// readers without either being installed here.
//
// The format, from TensorFlow's documentation and protos:
//   - A file is a sequence of records: uint64 length (little-endian), the
//     masked CRC-32C of those 8 bytes (uint32), the data, and the masked
//     CRC-32C of the data. Masking is ((crc >> 15) | (crc << 17)) +
//     0xa282ead8.
//   - Each record is an Event protocol buffer: wall_time (field 1, double),
//     step (2, int64), file_version (3, string; the first event carries
//     "brain.Event:2") and summary (5, Summary).
//   - A Summary holds repeated value (field 1), each a Summary.Value with
//     tag (1, string) and simple_value (2, float).
//
// Files are named events.out.tfevents.<seconds>.<host>.<pid>.<n>, as
// TensorBoard expects; a resumed run writes a new file into the same
// directory, which TensorBoard reads as one run.
package tfevents

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/ultra-rl/ultra/internal/protowire"
)

// FileVersion is the file_version of a file's first event.
const FileVersion = "brain.Event:2"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C of b.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// Scalar is one tagged value of an event.
type Scalar struct {
	Tag   string
	Value float64
}

// Writer appends events to one event file. It is not safe for concurrent
// use.
type Writer struct {
	f    *os.File
	w    *bufio.Writer
	path string
	buf  []byte // the event being encoded, reused
	sum  []byte // its summary, reused
	hdr  [12]byte
	foot [4]byte
	now  func() time.Time
}

var seq atomic.Int64 // distinguishes files a process opens in one second

// Create opens a new event file in dir and writes its version event.
func Create(dir string) (*Writer, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	now := time.Now()
	name := fmt.Sprintf("events.out.tfevents.%d.%s.%d.%d", now.Unix(), host, os.Getpid(), seq.Add(1)-1)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tfevents: %w", err)
	}
	w := &Writer{f: f, w: bufio.NewWriter(f), path: path, now: time.Now}
	w.buf = protowire.Double(w.buf[:0], 1, seconds(now))
	w.buf = protowire.String(w.buf, 3, FileVersion)
	if err := w.record(w.buf); err != nil {
		f.Close()
		return nil, err
	}
	return w, w.Flush()
}

// Path is the event file's path.
func (w *Writer) Path() string { return w.path }

// Write appends one event at step holding the scalars; values that are NaN
// or infinite are left out (TensorBoard draws them as gaps anyway), and an
// event with none is not written.
func (w *Writer) Write(step int64, scalars ...Scalar) error {
	w.sum = w.sum[:0]
	for _, s := range scalars {
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			continue
		}
		// Summary.Value{tag: 1, simple_value: 2}, its length known ahead.
		n := 1 + protowire.SizeVarint(uint64(len(s.Tag))) + len(s.Tag) + 1 + 4
		w.sum = protowire.Header(w.sum, 1, n)
		w.sum = protowire.String(w.sum, 1, s.Tag)
		w.sum = protowire.Float(w.sum, 2, float32(s.Value))
	}
	if len(w.sum) == 0 {
		return nil
	}
	w.buf = protowire.Double(w.buf[:0], 1, seconds(w.now()))
	w.buf = protowire.Varint(w.buf, 2, uint64(step))
	w.buf = protowire.Bytes(w.buf, 5, w.sum)
	return w.record(w.buf)
}

// Flush writes buffered events to the file.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("tfevents: %s: %w", w.path, err)
	}
	return nil
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	return errors.Join(w.Flush(), w.f.Close())
}

// record frames data as one TFRecord.
func (w *Writer) record(data []byte) error {
	binary.LittleEndian.PutUint64(w.hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(w.hdr[8:], maskedCRC(w.hdr[:8]))
	binary.LittleEndian.PutUint32(w.foot[:], maskedCRC(data))
	w.w.Write(w.hdr[:])
	w.w.Write(data)
	if _, err := w.w.Write(w.foot[:]); err != nil {
		return fmt.Errorf("tfevents: %s: %w", w.path, err)
	}
	return nil
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
