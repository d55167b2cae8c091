#!/usr/bin/env python3
"""Quantizes an FP32 EfficientNet-Lite0-style ONNX model with ONNX Runtime's own tool
(`quantize_static`: QDQ format, per-channel weights, ORT's default int8 activations), calibrated
on the first N sample images with the EfficientNet-Lite preprocessing: another tool's QDQ file
for Octet's INT8 engine to run (`octet bench`, `octet eval`, then `ort_qdq_check.py` to compare).

With --npz IN.npz instead of --images (one array [N, ...] per model input, e.g. from
`octet eval ... --save-inputs IN.npz`), any model is calibrated on the first N samples of the
archive, preprocessed exactly as Octet preprocesses them (the zoo models, with their recipes).

usage: ort_quantize.py FP32.onnx OUT.int8.onnx (--images DIR | --npz IN.npz) [--samples 32] [--preprocess]
Needs: pip install onnxruntime numpy pillow
"""
import argparse
import os
import sys

import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

sys.path.insert(0, os.path.dirname(__file__))
from make_reference_outputs import image_files, lite_input  # noqa: E402


class Feeds(CalibrationDataReader):
    def __init__(self, feeds):
        self.items = iter(feeds)

    def get_next(self):
        return next(self.items, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32")
    ap.add_argument("out")
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--images")
    source.add_argument("--npz")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--preprocess", action="store_true",
                    help="run ONNX Runtime's quantization preprocessing (shape inference, graph optimization) first, "
                         "as its documentation recommends")
    args = ap.parse_args()
    if args.npz:
        import numpy as np
        arrays = dict(np.load(args.npz))
        count = min(args.samples, min(len(a) for a in arrays.values()))
        feeds = [{k: v[i:i + 1] for k, v in arrays.items()} for i in range(count)]
    else:
        names = image_files(args.images)[:args.samples]
        input_name = ort.InferenceSession(args.fp32, providers=["CPUExecutionProvider"]).get_inputs()[0].name
        feeds = [{input_name: lite_input(os.path.join(args.images, n))[None]} for n in names]
    source = args.fp32
    import onnx
    if args.preprocess:
        from onnxruntime.quantization.shape_inference import quant_pre_process
        source = args.out + ".pre.onnx"
        quant_pre_process(args.fp32, source, skip_symbolic_shape=True)
    model = onnx.load(source)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset < 13:
        # Per-channel DequantizeLinear (an axis attribute) needs opset 13; quantize_static would
        # write an opset-11 file ONNX Runtime itself refuses to load.
        from onnx import version_converter
        if source != args.fp32:
            os.remove(source)
        source = args.out + ".opset13.onnx"
        onnx.save(version_converter.convert_version(model, 13), source)
    quantize_static(source, args.out, Feeds(feeds), quant_format=QuantFormat.QDQ, per_channel=True)
    if source != args.fp32:
        os.remove(source)
    print(f"wrote {args.out} ({len(feeds)} calibration samples)")


if __name__ == "__main__":
    main()
