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


OPS = {
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
out = env[model.graph.output[0].name]
print(json.dumps({"opset": model.opset_import[0].version, "ops": sorted({n.op_type for n in model.graph.node}),
                  "action": out.tolist()}))
