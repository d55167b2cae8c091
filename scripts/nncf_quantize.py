#!/usr/bin/env python3
"""Quantizes an FP32 ONNX model with NNCF's post-training quantization (`nncf.quantize`, its ONNX
backend, default preset: symmetric per-channel int8 weights, u8/i8 activations as NNCF chooses,
fast bias correction) on the first N samples of an archive of preprocessed inputs, as
`octet eval ... --save-inputs IN.npz` writes them: another tool's QDQ file for Octet's INT8 engine
(`octet bench --profile`, `octet eval`, `ort_qdq_check.py`).

usage: nncf_quantize.py FP32.onnx OUT.int8.onnx --npz IN.npz [--samples 32]
Needs: pip install nncf onnx onnxruntime numpy
"""
import argparse

import numpy as np
import onnx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32")
    ap.add_argument("out")
    ap.add_argument("--npz", required=True)
    ap.add_argument("--samples", type=int, default=32)
    args = ap.parse_args()
    import nncf
    arrays = dict(np.load(args.npz))
    count = min(args.samples, min(len(a) for a in arrays.values()))
    feeds = [{k: v[i:i + 1] for k, v in arrays.items()} for i in range(count)]
    model = onnx.load(args.fp32)
    quantized = nncf.quantize(model, nncf.Dataset(feeds), subset_size=count)
    onnx.save(quantized, args.out)
    print(f"wrote {args.out} ({count} calibration samples, NNCF {nncf.__version__})")


if __name__ == "__main__":
    main()
