#!/usr/bin/env python3
"""Compares Octet's INT8 outputs of any model with ONNX Runtime's on the same QDQ file and inputs.

Inputs and Octet's outputs come from `octet eval FP32 INT8 --save-inputs in.npz --save-outputs out.npz`
(the exact preprocessed tensors both engines run on). ONNX Runtime runs the FP32 model and the QDQ
model on them. Prints one JSON object: per output, the SQNR of Octet INT8 against ONNX Runtime INT8
(and how many of its values differ), and of each INT8 engine against FP32; for a classifier (one output [N, classes]) the top-1
agreements too.

ONNX Runtime runs the QDQ file twice: as it is deployed (all graph optimizations: QDQ groups fused
into its integer kernels, QLinearConv, QLinearMul, ...) and as written (no graph optimization: each
DequantizeLinear, float op and QuantizeLinear evaluated by its ONNX definition, in float). The
second is the file's reference semantics up to float rounding; `ort_vs_ort_unfused_*` measures how
far ONNX Runtime's fused kernels are from it, the noise floor any other engine meets when compared
with ONNX Runtime.

`ort_vs_ort_reencoded_*` compares ONNX Runtime with itself on the same model with its activations
re-encoded (int8 codes as uint8 ones with zero point + 128, or back; null for a file whose zero
points are not initializers): the same real values, so any difference is ONNX Runtime's own
arithmetic, the agreement any other engine can expect on this file. (Octet gives the same codes
for both encodings except where its Mul follows ONNX Runtime's int8 QLinearMul rounding.)

`ort_convs` counts the convolutions of ONNX Runtime's optimized graph by kind: "integer"
(QLinearConv, ConvInteger) and "float" (a Conv its QDQ fusion left in float: on x86 most
convolutions of an int8-activation file, whose agreement with any integer engine is then bounded by
float rounding at the QDQ boundaries).

usage: ort_zoo_check.py FP32.onnx INT8.onnx in.npz out.npz
Needs: pip install onnxruntime numpy
"""
import argparse
import json
import os
import tempfile

import numpy as np
import onnxruntime as ort


def sqnr(ref, other):
    ref = ref.astype(np.float64)
    noise = np.sum((ref - other.astype(np.float64)) ** 2)
    # 999 stands for identical outputs (JSON has no infinity).
    return 999.0 if noise == 0 else min(999.0, float(10 * np.log10(np.sum(ref ** 2) / noise)))


def run(session, inputs, batch=32):
    n = len(next(iter(inputs.values())))
    parts = [session.run(None, {k: v[i:i + batch] for k, v in inputs.items()}) for i in range(0, n, batch)]
    names = [o.name for o in session.get_outputs()]
    return {name: np.concatenate([p[j] for p in parts]) for j, name in enumerate(names)}


def optimized_conv_kinds(path):
    """Counts the convolutions ONNX Runtime runs as integer and as float kernels after its graph optimizations."""
    import onnx
    with tempfile.TemporaryDirectory() as work:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.optimized_model_filepath = os.path.join(work, "optimized.onnx")
        ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        ops = [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]
    return {"integer": sum(op in ("QLinearConv", "ConvInteger") for op in ops),
            "float": sum(op in ("Conv", "FusedConv") for op in ops)}


def reencoded(path):
    """The QDQ model at `path` with every activation's codes re-encoded between int8 and uint8
    (zero point ± 128, the same real values); weights and biases untouched."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    added = {}
    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 3:
            continue
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers:
            continue  # a weight or bias
        zero = initializers.get(node.input[2])
        if zero is None:
            continue
        if zero.name not in added:
            z = numpy_helper.to_array(zero).astype(np.int32)
            flipped = (z + 128).astype(np.uint8) if zero.data_type == onnx.TensorProto.INT8 else (z - 128).astype(np.int8)
            added[zero.name] = numpy_helper.from_array(flipped, zero.name + "_reencoded")
        node.input[2] = added[zero.name].name
    graph.initializer.extend(added.values())
    # Types recorded for the re-encoded codes would now be wrong; ONNX Runtime infers them again.
    recoded = {node.output[0] for node in graph.node if node.op_type == "QuantizeLinear" and node.input[2] in added}
    kept_info = [v for v in graph.value_info if v.name not in recoded]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model.SerializeToString()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32")
    ap.add_argument("int8")
    ap.add_argument("inputs")
    ap.add_argument("octet_outputs")
    args = ap.parse_args()
    inputs = dict(np.load(args.inputs))
    octet = dict(np.load(args.octet_outputs))
    fp32 = run(ort.InferenceSession(args.fp32, providers=["CPUExecutionProvider"]), inputs)
    int8 = run(ort.InferenceSession(args.int8, providers=["CPUExecutionProvider"]), inputs)
    unfused_options = ort.SessionOptions()
    unfused_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    unfused = run(ort.InferenceSession(args.int8, unfused_options, providers=["CPUExecutionProvider"]), inputs)
    quiet = ort.SessionOptions()
    quiet.log_severity_level = 3
    try:
        other = run(ort.InferenceSession(reencoded(args.int8), quiet, providers=["CPUExecutionProvider"]), inputs)
    except Exception:  # a file this re-encoding does not fit: the comparison is left out, not the check
        other = None
    n = len(next(iter(inputs.values())))
    out = {"images": n, "ort_convs": optimized_conv_kinds(args.int8), "outputs": {}}
    for name, ref in fp32.items():
        o = octet[name].reshape(int8[name].shape)
        out["outputs"][name] = {"octet_vs_ort_int8_sqnr_db": sqnr(int8[name], o),
                                "octet_vs_ort_int8_differing": int(np.count_nonzero(int8[name] != o)), "values": int(o.size),
                                "octet_int8_vs_fp32_sqnr_db": sqnr(ref, o),
                                "ort_int8_vs_fp32_sqnr_db": sqnr(ref, int8[name]),
                                "octet_vs_ort_unfused_sqnr_db": sqnr(unfused[name], o),
                                "ort_vs_ort_unfused_sqnr_db": sqnr(unfused[name], int8[name]),
                                "ort_vs_ort_reencoded_sqnr_db": sqnr(int8[name], other[name]) if other else None}
    classifiers = [k for k, v in fp32.items() if v.ndim == 2 and v.shape[0] == n]
    if len(classifiers) == 1:
        k = classifiers[0]
        a, b, c = fp32[k].argmax(1), int8[k].argmax(1), octet[k].reshape(int8[k].shape).argmax(1)
        out.update({"classifier_output": k, "octet_vs_ort_int8_agreement": float(np.mean(b == c)),
                    "octet_int8_vs_fp32_agreement": float(np.mean(a == c)), "ort_int8_vs_fp32_agreement": float(np.mean(a == b))})
        d = unfused[k].argmax(1)
        out.update({"octet_vs_ort_unfused_agreement": float(np.mean(c == d)), "ort_vs_ort_unfused_agreement": float(np.mean(b == d)),
                    "ort_vs_ort_reencoded_agreement": float(np.mean(b == other[k].argmax(1))) if other else None})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
