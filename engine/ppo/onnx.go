package ppo

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/internal/protowire"
)

// ONNX's numbers this export uses (onnx/onnx.proto3).
const (
	onnxIRVersion = 7  // the IR of opset 13
	onnxOpset     = 13 // Gemm, Tanh, Relu, Max, Min, ArgMax, Sub, Div
	onnxFloat     = 1  // TensorProto.FLOAT
	onnxInt64     = 7  // TensorProto.INT64
	attrInt       = 2  // AttributeProto.INT
)

// ExportONNX writes the policy as an ONNX model (opset 13) that maps raw
// observations "obs" [N, obs_dim] (float32) to the action ultra eval takes:
// "action" [N, act_dim], the Gaussian's mean clipped to action's bounds, or
// [N] int64, the argmax of the logits for a discrete space. The graph
// normalises the observation as the trainer does (Sub, Div, clipped with Max
// and Min) in float32, then runs the MLP (Gemm with the weights as stored,
// [out, in], transB = 1). The Nature-CNN is not exported yet: it is refused.
func (c *Checkpoint) ExportONNX(w io.Writer, action env.Space) error {
	if c.Net.IsImage() {
		return fmt.Errorf("ppo: ONNX export: the CNN policy (image %v) is not exported yet; MLP policies are", c.Net.Image)
	}
	od := len(c.ObsRMS.Mean)
	var g graph
	x := "obs"
	if c.Config.NormObs {
		mean, std := make([]float32, od), make([]float32, od)
		for i := range mean {
			mean[i] = float32(c.ObsRMS.Mean[i])
			std[i] = float32(math.Sqrt(c.ObsRMS.Var[i] + normEps))
		}
		lo, hi := float32(-c.Config.ClipObs), float32(c.Config.ClipObs)
		g.init("obs_rms.mean", []int64{int64(od)}, mean)
		g.init("obs_rms.std", []int64{int64(od)}, std)
		g.init("obs_clip.low", nil, []float32{lo})
		g.init("obs_clip.high", nil, []float32{hi})
		g.node("Sub", []string{"obs", "obs_rms.mean"}, "centred")
		g.node("Div", []string{"centred", "obs_rms.std"}, "scaled")
		g.node("Max", []string{"scaled", "obs_clip.low"}, "clipped_low")
		g.node("Min", []string{"clipped_low", "obs_clip.high"}, "normalised")
		x = "normalised"
	}
	layers := len(c.Net.Hidden) + 1
	for l := 0; l < layers; l++ {
		wn, bn := "policy."+strconv.Itoa(2*l)+".weight", "policy."+strconv.Itoa(2*l)+".bias"
		wt, bt := c.Tensor(wn), c.Tensor(bn)
		shape := c.shape(wn)
		if wt == nil || bt == nil || len(shape) != 2 {
			return fmt.Errorf("ppo: ONNX export: the checkpoint has no %s and %s", wn, bn)
		}
		g.init(wn, []int64{int64(shape[0]), int64(shape[1])}, wt)
		g.init(bn, []int64{int64(len(bt))}, bt)
		y := "layer" + strconv.Itoa(l)
		g.node("Gemm", []string{x, wn, bn}, y, attr{"transB", 1})
		x = y
		if l < layers-1 {
			act := "Tanh"
			if c.Config.Activation == "relu" {
				act = "Relu"
			}
			g.node(act, []string{x}, y+".act")
			x = y + ".act"
		}
	}
	var out []byte
	switch {
	case c.Net.Discrete:
		g.node("ArgMax", []string{x}, "action", attr{"axis", 1}, attr{"keepdims", 0})
		out = valueInfo("action", onnxInt64, []any{"N"})
	case action.Dim > 0 && len(action.Low) == action.Dim:
		g.init("action.low", []int64{int64(action.Dim)}, action.Low)
		g.init("action.high", []int64{int64(action.Dim)}, action.High)
		g.node("Max", []string{x, "action.low"}, "mean_low")
		g.node("Min", []string{"mean_low", "action.high"}, "action")
		out = valueInfo("action", onnxFloat, []any{"N", int64(action.Dim)})
	default:
		return fmt.Errorf("ppo: ONNX export: want the env's action space (a box with bounds, or discrete), got %+v", action)
	}
	// GraphProto: node 1, name 2, initializer 5, input 11, output 12.
	var gb []byte
	for _, n := range g.nodes {
		gb = protowire.Bytes(gb, 1, n)
	}
	gb = protowire.String(gb, 2, "ultra_policy_"+c.Config.Env)
	for _, t := range g.inits {
		gb = protowire.Bytes(gb, 5, t)
	}
	gb = protowire.Bytes(gb, 11, valueInfo("obs", onnxFloat, []any{"N", int64(od)}))
	gb = protowire.Bytes(gb, 12, out)
	// ModelProto: ir_version 1, producer_name 2, producer_version 3,
	// graph 7, opset_import 8 (OperatorSetIdProto: domain 1, version 2).
	var m []byte
	m = protowire.Varint(m, 1, onnxIRVersion)
	m = protowire.String(m, 2, "ultra")
	m = protowire.String(m, 3, "ultra-ppo-v1")
	m = protowire.Bytes(m, 7, gb)
	m = protowire.Bytes(m, 8, protowire.Varint(protowire.String(nil, 1, ""), 2, onnxOpset))
	_, err := w.Write(m)
	return err
}

// shape is a tensor's shape from the checkpoint's index.
func (c *Checkpoint) shape(name string) []int {
	for _, ti := range c.Tensors {
		if ti.Name == name {
			return ti.Shape
		}
	}
	return nil
}

// graph collects encoded NodeProtos and TensorProtos.
type graph struct{ nodes, inits [][]byte }

type attr struct {
	name string
	i    int64
}

// node appends a NodeProto: input 1, output 2, name 3, op_type 4,
// attribute 5 (AttributeProto: name 1, i 3, type 20).
func (g *graph) node(op string, in []string, out string, attrs ...attr) {
	var b []byte
	for _, s := range in {
		b = protowire.String(b, 1, s)
	}
	b = protowire.String(b, 2, out)
	b = protowire.String(b, 3, out)
	b = protowire.String(b, 4, op)
	for _, a := range attrs {
		var ab []byte
		ab = protowire.String(ab, 1, a.name)
		ab = protowire.Varint(ab, 3, uint64(a.i))
		ab = protowire.Varint(ab, 20, attrInt)
		b = protowire.Bytes(b, 5, ab)
	}
	g.nodes = append(g.nodes, b)
}

// init appends a float32 initializer: TensorProto dims 1, data_type 2,
// name 8, raw_data 9 (little-endian). nil dims is a scalar.
func (g *graph) init(name string, dims []int64, vals []float32) {
	var b []byte
	for _, d := range dims {
		b = protowire.Varint(b, 1, uint64(d))
	}
	b = protowire.Varint(b, 2, onnxFloat)
	b = protowire.String(b, 8, name)
	raw := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	b = protowire.Bytes(b, 9, raw)
	g.inits = append(g.inits, b)
}

// valueInfo is a ValueInfoProto (name 1, type 2) of a tensor (TypeProto
// tensor_type 1: elem_type 1, shape 2), each dimension a size (int64) or a
// symbolic name (string): TensorShapeProto dim 1 (dim_value 1, dim_param 2).
func valueInfo(name string, elem int, dims []any) []byte {
	var shape []byte
	for _, d := range dims {
		var db []byte
		switch d := d.(type) {
		case int64:
			db = protowire.Varint(db, 1, uint64(d))
		case string:
			db = protowire.String(db, 2, d)
		}
		shape = protowire.Bytes(shape, 1, db)
	}
	tt := protowire.Bytes(protowire.Varint(nil, 1, uint64(elem)), 2, shape)
	return protowire.Bytes(protowire.String(nil, 1, name), 2, protowire.Bytes(nil, 1, tt))
}
