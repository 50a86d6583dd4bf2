package ppo

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/ultra-rl/ultra/internal/memlimit"
)

// FuzzDecodeCheckpoint feeds arbitrary bytes to the checkpoint loader and
// what builds on it (issue 14's fuzzing). Each input is tried as is and
// with a valid checksum appended, so that mutations reach the header and
// tensor parsing instead of stopping at the checksum. A checkpoint that
// decodes must either be refused by NewPolicy with an error or give a
// policy that acts, and export to safetensors; nothing may panic or
// allocate beyond a 512 MiB limit.
func FuzzDecodeCheckpoint(f *testing.F) {
	spec := hopper(f)
	c := small()
	c.Hidden = []int{4}
	tr, err := New(c, spec, Hooks{})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := tr.Iterate(); err != nil {
		f.Fatal(err)
	}
	ck, err := tr.Checkpoint()
	if err != nil {
		f.Fatal(err)
	}
	tr.Close()
	var buf bytes.Buffer
	if err := ck.Encode(&buf); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)-sha256.Size]) // the body: the target appends the checksum
	f.Add([]byte("ULTRACKP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		memlimit.Set(memlimit.Limit{Bytes: 512 << 20, Source: "fuzz"})
		defer memlimit.Reset()
		sum := sha256.Sum256(b)
		for _, in := range [][]byte{b, append(b[:len(b):len(b)], sum[:]...)} {
			ck, err := DecodeCheckpoint(in)
			if err != nil {
				continue
			}
			if err := ck.ExportSafetensors(io.Discard, spec.Action); err != nil {
				t.Logf("export: %v", err)
			}
			p, err := NewPolicy(ck, spec, true, 1)
			if err != nil {
				continue
			}
			obs := make([]float32, spec.Observation.Dim)
			act := make([]float32, spec.Action.Dim)
			p.Act(obs, 1, act)
			p.Close()
		}
	})
}
