#!/usr/bin/env python3
"""Quantizes an FP32 EfficientNet-Lite0-style ONNX model with ONNX Runtime's own tool
(`quantize_static`: QDQ format, per-channel int8 weights, int8 activations as ONNX Runtime's default or
uint8 with `--activations uint8`), calibrated
on the first N sample images with the EfficientNet-Lite preprocessing: another tool's QDQ file
for Octet's INT8 engine to run (`octet bench`, `octet eval`, then `ort_qdq_check.py` to compare).

With --npz IN.npz instead of --images (one array [N, ...] per model input, e.g. from
`octet eval ... --save-inputs IN.npz`), any model is calibrated on the first N samples of the
archive, preprocessed exactly as Octet preprocesses them (the zoo models, with their recipes).

On x86, ONNX Runtime fuses a QDQ convolution into its integer QLinearConv only when the activations
are uint8 (U8S8); with its default int8 activations it keeps DequantizeLinear → float Conv →
QuantizeLinear, so ONNX Runtime's run of an int8-activation file is float arithmetic rounded at the
QDQ boundaries, not integer arithmetic (docs/benchmarks.md measures what that costs in agreement).

usage: ort_quantize.py FP32.onnx OUT.int8.onnx (--images DIR | --npz IN.npz) [--samples 32] [--preprocess]
                       [--activations int8|uint8]
Needs: pip install onnxruntime numpy pillow
"""
import argparse
import os
import sys

import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

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
    ap.add_argument("--activations", choices=["int8", "uint8"], default="int8",
                    help="activation type: int8 (ONNX Runtime's default) or uint8 (what its x86 integer kernels fuse)")
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
    activation_type = QuantType.QUInt8 if args.activations == "uint8" else QuantType.QInt8
    quantize_static(source, args.out, Feeds(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=activation_type, weight_type=QuantType.QInt8)
    if source != args.fp32:
        os.remove(source)
    print(f"wrote {args.out} ({len(feeds)} calibration samples)")


if __name__ == "__main__":
    main()
