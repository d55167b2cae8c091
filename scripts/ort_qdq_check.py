#!/usr/bin/env python3
"""Runs an FP32 model and its QDQ INT8 model in ONNX Runtime on sample images.

Prints one JSON object: ORT INT8 top-1 agreement with ORT FP32, logits SQNR, and — with
--octet-logits FILE.npy (logits of Octet's INT8 executor on the same images, in the same order)
— top-1 agreement between ORT INT8 and Octet INT8. For scale it also runs the QDQ graph in ORT with
graph optimizations off (QuantizeLinear/DequantizeLinear evaluated in float, "fake quantization"):
two correct INT8 engines differ from each other about as much as each differs from that.

usage: ort_qdq_check.py FP32.onnx INT8.onnx --images DIR [--offset N] [--limit N] [--octet-logits F.npy]
Needs: pip install onnxruntime numpy pillow
"""
import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(__file__))
from make_reference_outputs import image_files, lite_input  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32")
    ap.add_argument("int8")
    ap.add_argument("--images", required=True)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--octet-logits")
    args = ap.parse_args()
    names = image_files(args.images)[args.offset:]
    if args.limit:
        names = names[:args.limit]
    so = ort.SessionOptions()
    fp32 = ort.InferenceSession(args.fp32, so, providers=["CPUExecutionProvider"])
    int8 = ort.InferenceSession(args.int8, so, providers=["CPUExecutionProvider"])
    so_fake = ort.SessionOptions()
    so_fake.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    fake = ort.InferenceSession(args.int8, so_fake, providers=["CPUExecutionProvider"])
    name = fp32.get_inputs()[0].name
    a_all, b_all, f_all = [], [], []
    for i in range(0, len(names), 32):
        x = np.stack([lite_input(os.path.join(args.images, n)) for n in names[i:i + 32]])
        a_all.append(fp32.run(None, {name: x})[0])
        b_all.append(int8.run(None, {int8.get_inputs()[0].name: x})[0])
        f_all.append(fake.run(None, {fake.get_inputs()[0].name: x})[0])
    a, b, f = np.concatenate(a_all), np.concatenate(b_all), np.concatenate(f_all)

    def sqnr(ref, other):
        return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - other).astype(np.float64) ** 2)))
    out = {"images": len(names), "ort_int8_vs_fp32_agreement": float(np.mean(a.argmax(1) == b.argmax(1))),
           "ort_int8_sqnr_db": sqnr(a, b),
           "ort_int8_vs_ort_fakequant_agreement": float(np.mean(b.argmax(1) == f.argmax(1))),
           "ort_int8_vs_ort_fakequant_sqnr_db": sqnr(f, b)}
    if args.octet_logits:
        c = np.load(args.octet_logits)
        out["ort_int8_vs_octet_int8_agreement"] = float(np.mean(b.argmax(1) == c.argmax(1)))
        out["octet_int8_vs_fp32_agreement"] = float(np.mean(a.argmax(1) == c.argmax(1)))
        out["ort_int8_vs_octet_int8_sqnr_db"] = sqnr(b, c)
        out["octet_int8_vs_ort_fakequant_agreement"] = float(np.mean(f.argmax(1) == c.argmax(1)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
