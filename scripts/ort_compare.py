#!/usr/bin/env python3
"""Runs an ONNX model in ONNX Runtime (FP32, CPU) on a .npy batch and compares every output
with Octet's (an .npz written by `octet run --save-outputs`).

    python3 scripts/ort_compare.py MODEL.onnx INPUT.npy OCTET.npz [--threads 2]

Prints one JSON line: {"onnxruntime": version, "outputs": {name: {"shape", "octet_shape",
"max_abs", "max_ref", "relative"}}}, relative = max |octet - ort| / max |ort|.
"""
import argparse
import json

import numpy as np
import onnxruntime as ort


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("octet")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    x = np.load(a.input).astype(np.float32)
    name = sess.get_inputs()[0].name
    outs = sess.run(None, {name: x})
    octet = np.load(a.octet)
    result = {}
    for info, ref in zip(sess.get_outputs(), outs):
        ref = np.asarray(ref, dtype=np.float32)
        entry = {"shape": list(ref.shape)}
        if info.name not in octet:
            entry["missing"] = True
        else:
            got = octet[info.name]
            entry["octet_shape"] = list(got.shape)
            if got.shape == ref.shape:
                diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
                entry["max_abs"] = float(diff.max()) if diff.size else 0.0
                entry["max_ref"] = float(np.abs(ref).max()) if ref.size else 0.0
                entry["relative"] = entry["max_abs"] / max(entry["max_ref"], 1e-30)
                entry["nonfinite"] = int((~np.isfinite(got)).sum())
        result[info.name] = entry
    print(json.dumps({"onnxruntime": ort.__version__, "outputs": result}))


if __name__ == "__main__":
    main()
