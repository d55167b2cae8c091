#!/usr/bin/env python3
"""Quantizes an FP32 EfficientNet-Lite0-style ONNX model with ONNX Runtime's own tool
(`quantize_static`: QDQ format, per-channel weights, ORT's default int8 activations), calibrated
on the first N sample images with the EfficientNet-Lite preprocessing: another tool's QDQ file
for Octet's INT8 engine to run (`octet bench`, `octet eval`, then `ort_qdq_check.py` to compare).

usage: ort_quantize.py FP32.onnx OUT.int8.onnx --images DIR [--samples 32]
Needs: pip install onnxruntime numpy pillow
"""
import argparse
import os
import sys

import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

sys.path.insert(0, os.path.dirname(__file__))
from make_reference_outputs import image_files, lite_input  # noqa: E402


class Images(CalibrationDataReader):
    def __init__(self, input_name, paths):
        self.items = iter([{input_name: lite_input(p)[None]} for p in paths])

    def get_next(self):
        return next(self.items, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32")
    ap.add_argument("out")
    ap.add_argument("--images", required=True)
    ap.add_argument("--samples", type=int, default=32)
    args = ap.parse_args()
    names = image_files(args.images)[:args.samples]
    input_name = ort.InferenceSession(args.fp32, providers=["CPUExecutionProvider"]).get_inputs()[0].name
    reader = Images(input_name, [os.path.join(args.images, n) for n in names])
    quantize_static(args.fp32, args.out, reader, quant_format=QuantFormat.QDQ, per_channel=True)
    print(f"wrote {args.out} ({len(names)} calibration images)")


if __name__ == "__main__":
    main()
