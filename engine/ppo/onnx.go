package ppo

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/nn"
	"github.com/ultra-rl/ultra/internal/protowire"
)

// ONNX's numbers this export uses (onnx/onnx.proto3).
const (
	onnxIRVersion = 7  // the IR of opset 13
	onnxOpset     = 13 // Gemm, Tanh, Relu, Max, Min, ArgMax, Sub, Div, Conv, Reshape, Flatten, Identity
	onnxFloat     = 1  // TensorProto.FLOAT
	onnxInt64     = 7  // TensorProto.INT64
	attrInt       = 2  // AttributeProto.INT
	attrInts      = 7  // AttributeProto.INTS
)

// ExportONNX writes the policy as an ONNX model (opset 13) that maps raw
// observations "obs" [N, obs_dim] (float32) to the action ultra eval takes:
// "action" [N, act_dim], the Gaussian's mean clipped to action's bounds, or
// [N] int64, the argmax of the logits for a discrete space. The graph
// normalises the observation as the trainer does (Sub, Div, clipped with Max
// and Min) in float32, then runs the networks: the MLP as Gemm layers (the
// weights as stored, [out, in], transB = 1), or the Nature-CNN as a Reshape
// to [N, C, H, W], its convolutions (Conv, Relu), Flatten and Gemm layers.
// A discrete policy's graph also outputs its "logits" [N, actions].
func (c *Checkpoint) ExportONNX(w io.Writer, action env.Space) error {
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
	var err error
	if c.Net.IsImage() {
		x, err = c.onnxCNN(&g, x)
	} else {
		x, err = c.onnxMLP(&g, x)
	}
	if err != nil {
		return err
	}
	var outs [][]byte
	switch {
	case c.Net.Discrete:
		g.node("Identity", []string{x}, "logits")
		g.node("ArgMax", []string{x}, "action", attr{name: "axis", i: 1}, attr{name: "keepdims", i: 0})
		outs = append(outs, valueInfo("action", onnxInt64, []any{"N"}), valueInfo("logits", onnxFloat, []any{"N", int64(c.Net.ActDim)}))
	case action.Dim > 0 && len(action.Low) == action.Dim:
		g.init("action.low", []int64{int64(action.Dim)}, action.Low)
		g.init("action.high", []int64{int64(action.Dim)}, action.High)
		g.node("Max", []string{x, "action.low"}, "mean_low")
		g.node("Min", []string{"mean_low", "action.high"}, "action")
		outs = append(outs, valueInfo("action", onnxFloat, []any{"N", int64(action.Dim)}))
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
	for _, o := range outs {
		gb = protowire.Bytes(gb, 12, o)
	}
	// ModelProto: ir_version 1, producer_name 2, producer_version 3,
	// graph 7, opset_import 8 (OperatorSetIdProto: domain 1, version 2).
	var m []byte
	m = protowire.Varint(m, 1, onnxIRVersion)
	m = protowire.String(m, 2, "ultra")
	m = protowire.String(m, 3, "ultra-ppo-v1")
	m = protowire.Bytes(m, 7, gb)
	m = protowire.Bytes(m, 8, protowire.Varint(protowire.String(nil, 1, ""), 2, onnxOpset))
	_, err = w.Write(m)
	return err
}

// onnxLinear adds a Gemm of the named Linear layer ([out, in] weight,
// [out] bias) to x and returns its output's name.
func (c *Checkpoint) onnxLinear(g *graph, x, layer, y string) (string, error) {
	wn, bn := layer+".weight", layer+".bias"
	wt, bt, shape := c.Tensor(wn), c.Tensor(bn), c.shape(wn)
	if wt == nil || bt == nil || len(shape) != 2 {
		return "", fmt.Errorf("ppo: ONNX export: the checkpoint has no %s and %s", wn, bn)
	}
	g.init(wn, []int64{int64(shape[0]), int64(shape[1])}, wt)
	g.init(bn, []int64{int64(len(bt))}, bt)
	g.node("Gemm", []string{x, wn, bn}, y, attr{name: "transB", i: 1})
	return y, nil
}

// onnxMLP adds the policy MLP: Gemm layers with the activation between.
func (c *Checkpoint) onnxMLP(g *graph, x string) (string, error) {
	layers := len(c.Net.Hidden) + 1
	act := "Tanh"
	if c.Config.Activation == "relu" {
		act = "Relu"
	}
	for l := 0; l < layers; l++ {
		y, err := c.onnxLinear(g, x, "policy."+strconv.Itoa(2*l), "layer"+strconv.Itoa(l))
		if err != nil {
			return "", err
		}
		x = y
		if l < layers-1 {
			g.node(act, []string{x}, y+".act")
			x = y + ".act"
		}
	}
	return x, nil
}

// onnxCNN adds the Nature-CNN: the flat observation reshaped to NCHW, the
// convolutions with ReLU, Flatten (channel-major, as PyTorch's), the
// hidden Linear with ReLU and the actor head.
func (c *Checkpoint) onnxCNN(g *graph, x string) (string, error) {
	im := c.Net.Image
	g.initInt64("image.shape", []int64{4}, []int64{-1, int64(im[0]), int64(im[1]), int64(im[2])})
	g.node("Reshape", []string{x, "image.shape"}, "image")
	x = "image"
	convs := nn.CNNConvs()
	for i, cv := range convs {
		name := "torso." + strconv.Itoa(2*i)
		wt, bt, shape := c.Tensor(name+".weight"), c.Tensor(name+".bias"), c.shape(name+".weight")
		if wt == nil || bt == nil || len(shape) != 4 || shape[0] != cv.Out || shape[2] != cv.Kernel {
			return "", fmt.Errorf("ppo: ONNX export: %s.weight has shape %v, want [%d, in, %d, %d]", name, shape, cv.Out, cv.Kernel, cv.Kernel)
		}
		g.init(name+".weight", []int64{int64(shape[0]), int64(shape[1]), int64(shape[2]), int64(shape[3])}, wt)
		g.init(name+".bias", []int64{int64(len(bt))}, bt)
		k, st := int64(cv.Kernel), int64(cv.Stride)
		g.node("Conv", []string{x, name + ".weight", name + ".bias"}, name,
			attr{name: "kernel_shape", ints: []int64{k, k}}, attr{name: "strides", ints: []int64{st, st}})
		g.node("Relu", []string{name}, name+".act")
		x = name + ".act"
	}
	g.node("Flatten", []string{x}, "flat", attr{name: "axis", i: 1})
	fc := "torso." + strconv.Itoa(2*len(convs)+1)
	y, err := c.onnxLinear(g, "flat", fc, fc)
	if err != nil {
		return "", err
	}
	g.node("Relu", []string{y}, fc+".act")
	return c.onnxLinear(g, fc+".act", "actor", "actor")
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

// attr is an INT attribute, or an INTS one when ints is set.
type attr struct {
	name string
	i    int64
	ints []int64
}

// node appends a NodeProto: input 1, output 2, name 3, op_type 4,
// attribute 5 (AttributeProto: name 1, i 3, ints 8, type 20).
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
		if a.ints != nil {
			for _, v := range a.ints {
				ab = protowire.Varint(ab, 8, uint64(v))
			}
			ab = protowire.Varint(ab, 20, attrInts)
		} else {
			ab = protowire.Varint(ab, 3, uint64(a.i))
			ab = protowire.Varint(ab, 20, attrInt)
		}
		b = protowire.Bytes(b, 5, ab)
	}
	g.nodes = append(g.nodes, b)
}

// tensor appends an initializer: TensorProto dims 1, data_type 2, name 8,
// raw_data 9 (little-endian values). nil dims is a scalar.
func (g *graph) tensor(name string, dims []int64, dtype uint64, raw []byte) {
	var b []byte
	for _, d := range dims {
		b = protowire.Varint(b, 1, uint64(d))
	}
	b = protowire.Varint(b, 2, dtype)
	b = protowire.String(b, 8, name)
	b = protowire.Bytes(b, 9, raw)
	g.inits = append(g.inits, b)
}

// init appends a float32 initializer.
func (g *graph) init(name string, dims []int64, vals []float32) {
	raw := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	g.tensor(name, dims, onnxFloat, raw)
}

// initInt64 appends an int64 initializer (a Reshape's shape).
func (g *graph) initInt64(name string, dims, vals []int64) {
	raw := make([]byte, 0, 8*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
	}
	g.tensor(name, dims, onnxInt64, raw)
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
