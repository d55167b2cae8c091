#!/usr/bin/env python3
"""Scores a detector's INT8 probability map against FP32 and ONNX Runtime's INT8 map of the same file.

Inputs and Octet's outputs come from `octet eval FP32 INT8 --data DIR --save-inputs in.npz
--save-outputs out.npz` (the model's first output: a probability map such as PP-OCRv4 det's).
Prints the output SQNR and, at a threshold (DB's 0.3 by default), the intersection over union of
the pixels above it and the share of pixels on different sides of it: Octet INT8 and ONNX Runtime
INT8 against FP32, Octet against ONNX Runtime, and ONNX Runtime fused against unfused (its own
noise floor; see scripts/ort_zoo_check.py).

usage: det_map_check.py FP32.onnx INT8.onnx in.npz out.npz [--threshold 0.3]
Needs: pip install onnxruntime numpy
"""
import argparse

import numpy as np
import onnxruntime as ort


def run(path, inputs, optimized=True, batch=8):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if not optimized:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    n = len(next(iter(inputs.values())))
    return np.concatenate([session.run(None, {k: v[i:i + batch] for k, v in inputs.items()})[0] for i in range(0, n, batch)])


def sqnr(ref, other):
    noise = np.sum((ref.astype(np.float64) - other) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / noise))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32")
    ap.add_argument("int8")
    ap.add_argument("inputs")
    ap.add_argument("outputs")
    ap.add_argument("--threshold", type=float, default=0.3)
    a = ap.parse_args()
    inputs = dict(np.load(a.inputs))
    saved = np.load(a.outputs)
    octet = saved[saved.files[0]]
    fp32, fused, unfused = run(a.fp32, inputs), run(a.int8, inputs), run(a.int8, inputs, optimized=False)
    t = a.threshold

    def compare(name, ref, other):
        r, o = ref > t, other > t
        iou = (r & o).sum() / max(1, (r | o).sum())
        print(f"{name}: SQNR {sqnr(ref, other):.1f} dB, IoU of pixels > {t} {iou:.4f}, pixels flipped {np.mean(r != o):.5f}")

    print(f"images {len(octet)}, pixels > {t} in FP32: {np.mean(fp32 > t):.4f}")
    compare("Octet INT8 vs FP32", fp32, octet)
    compare("ONNX Runtime INT8 vs FP32", fp32, fused)
    compare("Octet vs ONNX Runtime INT8", fused, octet)
    compare("ONNX Runtime fused vs unfused", unfused, fused)


if __name__ == "__main__":
    main()
