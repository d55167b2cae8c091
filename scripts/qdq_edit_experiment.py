#!/usr/bin/env python3
"""Edits an Octet QDQ file two ways and scores each in ONNX Runtime unfused against FP32: the
experiments behind "What still costs PP-LCNet" in docs/calibration.md.

- `per-channel-dw`: the activation QuantizeLinear/DequantizeLinear pair before every depthwise
  convolution gets one scale per channel (axis 1, the file's zero point kept), each covering that
  channel's FP32 range on the calibration inputs, as NNCF's files quantize depthwise inputs.
- `float-hardswish`: the pair between a convolution and a HardSwish that alone reads it is
  removed, so the HardSwish reads the float output (NNCF's layout); with --save, the edited file
  is written for `octet bench`.

Inputs are the preprocessed tensors `octet eval FP32 INT8 --save-inputs X.npz` writes (one for the
calibration images, one for the held-out ones). Prints the SQNR and top-1 agreement of the file as
written and as edited.

usage: qdq_edit_experiment.py FP32.onnx INT8.onnx CAL.npz EVAL.npz {per-channel-dw,float-hardswish} [--save OUT.onnx]
Needs: pip install onnxruntime onnx numpy
"""
import argparse
import copy

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from onnx import numpy_helper as nh


def run(model, inputs, outputs=None):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3  # unused-initializer warnings of the edited files
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = outputs or [o.name for o in s.get_outputs()]
    n = len(next(iter(inputs.values())))
    parts = [s.run(names, {k: v[i:i + 32] for k, v in inputs.items()}) for i in range(0, n, 32)]
    return [np.concatenate([p[j] for p in parts]) for j in range(len(names))]


def score(ref, out):
    ref = ref.astype(np.float64)
    sqnr = 10 * np.log10((ref ** 2).sum() / ((ref - out) ** 2).sum())
    return f"{sqnr:.1f} dB, top-1 agreement {100 * (ref.argmax(1) == out.argmax(1)).mean():.1f}%"


def graph_maps(g):
    producers = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return producers, consumers


def set_axis(node, axis):
    for a in list(node.attribute):
        if a.name == "axis":
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute("axis", axis))


def per_channel_dw(q, fp32, cal):
    g = q.graph
    producers, _ = graph_maps(g)
    inits = {i.name: i for i in g.initializer}
    pairs = []
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type != "Conv" or attrs.get("group", 1) <= 1:
            continue
        dq = producers.get(n.input[0])
        qn = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if qn is not None and qn.op_type == "QuantizeLinear":
            pairs.append((qn, dq, qn.input[0]))
    probe = copy.deepcopy(fp32)
    for _, _, t in pairs:
        probe.graph.output.append(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    values = run(probe, cal, [t for _, _, t in pairs])
    for (qn, dq, _), v in zip(pairs, values):
        s = float(nh.to_array(inits[qn.input[1]]))
        z = int(nh.to_array(inits[qn.input[2]]))
        top = s * (255 - z)
        hi = np.minimum(v.max(axis=(0, 2, 3)), top) / (255 - z)
        lo = -v.min(axis=(0, 2, 3)) / z if z > 0 else 0
        scales = np.maximum(np.maximum(hi, lo), 1e-8).astype(np.float32)
        sn, zn = qn.input[1] + "_per_channel", qn.input[2] + "_per_channel"
        g.initializer.append(nh.from_array(scales, sn))
        g.initializer.append(nh.from_array(np.full(len(scales), z, np.uint8), zn))
        for node in (qn, dq):
            node.input[1], node.input[2] = sn, zn
            set_axis(node, 1)
    return len(pairs)


def float_hardswish(q):
    g = q.graph
    producers, consumers = graph_maps(g)
    removed = []
    for n in g.node:
        dq = producers.get(n.input[0]) if n.op_type == "HardSwish" else None
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        qn = producers[dq.input[0]]
        if len(consumers[dq.output[0]]) == 1 and len(consumers[qn.output[0]]) == 1:
            n.input[0] = qn.input[0]
            removed += [qn, dq]
    for node in removed:
        g.node.remove(node)
    return len(removed) // 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32")
    ap.add_argument("int8")
    ap.add_argument("cal")
    ap.add_argument("eval")
    ap.add_argument("edit", choices=["per-channel-dw", "float-hardswish"])
    ap.add_argument("--save")
    args = ap.parse_args()
    fp32, q = onnx.load(args.fp32), onnx.load(args.int8)
    cal, ev = dict(np.load(args.cal)), dict(np.load(args.eval))
    ref = run(fp32, ev)[0]
    print("as written:", score(ref, run(q, ev)[0]))
    count = per_channel_dw(q, fp32, cal) if args.edit == "per-channel-dw" else float_hardswish(q)
    print(f"{args.edit} ({count} edited):", score(ref, run(q, ev)[0]))
    if args.save:
        onnx.save(q, args.save)


if __name__ == "__main__":
    main()
