#!/usr/bin/env python3
"""Regenerates the ONNX Runtime references the tests compare against (Tests/Fixtures).

- preprocessing_reference.json: for a few sample images, the FNV-1a 64-bit hash of PIL's
  224x224 RGB crop (resize shorter side to 256 with Image.BILINEAR, centre crop 224): Octet's
  resampler must reproduce these bytes exactly (the images themselves are not committed).
- efficientnet_lite0_reference.json: ORT FP32 logits of EfficientNet-Lite0 on those crops
  with (x - 127) / 128.
- resnet18_reference.json: ORT FP32 logits of Octet's seeded ResNet-18 (`octet zoo resnet18`)
  on the same crops with torchvision's ImageNet mean/std.
- efficientnet_lite0_ort_accuracy.json: ORT FP32 top-1/top-5 over all sample images, PIL
  preprocessing as above.

usage: scripts/make_reference_outputs.py --shared ../shared --resnet18 /tmp/resnet18.onnx
Needs: pip install onnxruntime numpy pillow
"""
import argparse
import csv
import json
import os

import numpy as np
import onnxruntime as ort
from PIL import Image

SAMPLES = ["n01440764_tench.JPEG", "n01530575_brambling.JPEG", "n01630670_common_newt.JPEG", "n01756291_sidewinder.JPEG"]


def resize_crop(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    if w <= h:
        size = (256, int(256 * h / w))
    else:
        size = (int(256 * w / h), 256)
    img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    top, left = int(round((h - 224) / 2.0)), int(round((w - 224) / 2.0))
    return img.crop((left, top, left + 224, top + 224))


def image_files(folder):
    """The JPEG/PNG files of a folder in file-name order (Octet's image-folder order)."""
    return sorted(n for n in os.listdir(folder) if n.lower().endswith((".jpeg", ".jpg", ".png")))


def lite_input(path):
    """One image as EfficientNet-Lite input [3, 224, 224] float32."""
    return lite(resize_crop(path)).astype(np.float32)


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def lite(pixels):
    x = np.asarray(pixels, dtype=np.float32)
    return ((x - 127.0) / 128.0).transpose(2, 0, 1)


def imagenet(pixels):
    x = np.asarray(pixels, dtype=np.float32) / np.float32(255)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    return ((x - mean) / std).transpose(2, 0, 1)


def session(path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def logits(sess, batch):
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: np.stack(batch).astype(np.float32)})[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--resnet18", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures"))
    args = ap.parse_args()
    images = os.path.join(args.shared, "data", "imagenet-sample")
    model = os.path.join(args.shared, "models", "efficientnet_lite0_fp32.onnx")

    crops = [resize_crop(os.path.join(images, name)) for name in SAMPLES]
    with open(os.path.join(args.out, "preprocessing_reference.json"), "w") as f:
        json.dump({"generator": "scripts/make_reference_outputs.py", "images": SAMPLES,
                   "fnv1a64": ["%016x" % fnv1a64(c.tobytes()) for c in crops]}, f, indent=1)

    for model_path, prep, fname in [(model, lite, "efficientnet_lite0_reference.json"),
                                    (args.resnet18, imagenet, "resnet18_reference.json")]:
        out = logits(session(model_path), [prep(c) for c in crops])
        ref = {"generator": "scripts/make_reference_outputs.py", "onnxruntime": ort.__version__,
               "images": SAMPLES,
               "logits": [[float(v) for v in row] for row in out]}
        with open(os.path.join(args.out, fname), "w") as f:
            json.dump(ref, f)

    labels = {}
    with open(os.path.join(images, "labels.csv")) as f:
        for row in csv.DictReader(f):
            labels[row["file"]] = int(row["label"])
    sess = session(model)
    names = sorted(labels)
    top1 = top5 = 0
    for i in range(0, len(names), 32):
        chunk = names[i:i + 32]
        out = logits(sess, [lite(resize_crop(os.path.join(images, n))) for n in chunk])
        for n, row in zip(chunk, out):
            order = np.argsort(-row, kind="stable")
            top1 += int(order[0] == labels[n])
            top5 += int(labels[n] in order[:5])
    acc = {"generator": "scripts/make_reference_outputs.py", "onnxruntime": ort.__version__, "images": len(names),
           "top1": top1 / len(names), "top5": top5 / len(names), "preprocessing": "PIL bilinear 256, centre crop 224, (x-127)/128"}
    with open(os.path.join(args.out, "efficientnet_lite0_ort_accuracy.json"), "w") as f:
        json.dump(acc, f, indent=1)
    print(json.dumps(acc))


if __name__ == "__main__":
    main()
