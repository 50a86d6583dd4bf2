// Package protowire appends protocol buffer fields in the wire format
// (https://protobuf.dev/programming-guides/encoding/), for the few messages
// ultra writes without generated code: TensorBoard events (internal/tfevents)
// and ONNX models (engine/ppo). A key is the field number << 3 | the wire
// type: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit.
package protowire

import (
	"encoding/binary"
	"math"
)

// Varint appends field as a varint (int32, int64, uint64, bool, enum).
func Varint(b []byte, field int, v uint64) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3) // wire type 0
	return binary.AppendUvarint(b, v)
}

// Double appends field as a 64-bit float.
func Double(b []byte, field int, v float64) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|1)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// Float appends field as a 32-bit float.
func Float(b []byte, field int, v float32) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|5)
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
}

// Bytes appends field as length-delimited bytes (an embedded message).
func Bytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// String appends field as a length-delimited string.
func String(b []byte, field int, v string) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Header appends the key and length of a length-delimited field of n bytes
// whose content the caller appends next (to avoid building it apart).
func Header(b []byte, field, n int) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	return binary.AppendUvarint(b, uint64(n))
}

// SizeVarint is the length of v's varint encoding.
func SizeVarint(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}
