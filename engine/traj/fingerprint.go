package traj

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
)

// Fingerprint identifies a set of episodes by their content: a SHA-256 over
// each episode's id, task, sizes, observations, actions and rewards, in
// order (32 hex digits). Annotations record the fingerprint of the
// episodes they were made from, so that annotations of other episodes —
// another experiment's, with the same ids — are refused.
func Fingerprint(trajs []Trajectory) string {
	h := sha256.New()
	var b [8]byte
	word := func(x uint64) {
		binary.LittleEndian.PutUint64(b[:], x)
		h.Write(b[:])
	}
	floats := func(xs []float32) {
		word(uint64(len(xs)))
		for _, x := range xs {
			binary.LittleEndian.PutUint32(b[:4], math.Float32bits(x))
			h.Write(b[:4])
		}
	}
	word(uint64(len(trajs)))
	for i := range trajs {
		t := &trajs[i]
		for _, s := range []string{t.ID, t.Env} {
			word(uint64(len(s)))
			h.Write([]byte(s))
		}
		word(uint64(t.ObsDim))
		word(uint64(t.ActDim))
		floats(t.Obs)
		floats(t.Actions)
		floats(t.Rewards)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
