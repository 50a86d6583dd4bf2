#!/usr/bin/env python3
"""Checks an ONNX policy independently of the Go writer, for the tests.

    onnx_check.py MODEL.onnx OBS.json

Runs onnx.checker.check_model (full check), then evaluates the graph with a
numpy implementation of each operator it uses, written here from the ONNX
operator specification, and prints the actions for the observations in
OBS.json as JSON.
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
with open(sys.argv[2]) as f:
    obs = np.array(json.load(f), dtype=np.float32)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def gemm(a, b, c, alpha=1.0, beta=1.0, transA=0, transB=0):
    a = a.T if transA else a
    b = b.T if transB else b
    return (alpha * (a @ b) + beta * c).astype(np.float32)


def argmax(x, axis=0, keepdims=1, select_last_index=0):
    out = np.argmax(x, axis=axis).astype(np.int64)
    return np.expand_dims(out, axis) if keepdims else out


def conv(x, w, b, kernel_shape=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1, auto_pad="NOTSET"):
    # NCHW, valid padding, no dilation, one group: what the export uses.
    assert tuple(pads) == (0, 0, 0, 0) and tuple(dilations) == (1, 1) and group == 1
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    sh, sw = strides
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = np.zeros((n, m, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            out += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j], optimize=True)
    return (out + b[None, :, None, None]).astype(np.float32)


def reshape(x, shape, allowzero=0):
    return x.reshape([int(d) for d in shape])


def flatten(x, axis=1):
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


OPS = {
    "Conv": conv,
    "Reshape": reshape,
    "Flatten": flatten,
    "Identity": lambda x: x,
    "Sub": lambda a, b: (a - b).astype(np.float32),
    "Div": lambda a, b: (a / b).astype(np.float32),
    "Max": lambda a, b: np.maximum(a, b),
    "Min": lambda a, b: np.minimum(a, b),
    "Tanh": lambda x: np.tanh(x),
    "Relu": lambda x: np.maximum(x, 0),
    "Gemm": gemm,
    "ArgMax": argmax,
}

env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
env[model.graph.input[0].name] = obs
for node in model.graph.node:
    op = OPS.get(node.op_type)
    if op is None:
        sys.exit("operator %s is not implemented by this checker" % node.op_type)
    env[node.output[0]] = op(*[env[i] for i in node.input], **attrs(node))
outputs = {o.name: env[o.name].tolist() for o in model.graph.output}
print(json.dumps({"opset": model.opset_import[0].version, "ops": sorted({n.op_type for n in model.graph.node}),
                  "action": outputs["action"], "logits": outputs.get("logits")}))
