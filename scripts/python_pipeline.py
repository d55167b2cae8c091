#!/usr/bin/env python3
"""The plain single-process batch-inference script a user would write, as the baseline of
`octet-bench infer`: Pillow decodes and preprocesses each image (resize the shorter side with
BILINEAR, centre crop, normalize), ONNX Runtime runs the model in batches, and one JSON line per
image (top-5 classes and softmax scores) is written in input order.

    python3 scripts/python_pipeline.py MODEL.onnx IMAGE_DIR --out preds.jsonl \
        [--recipe efficientnet-lite|imagenet] [--batch 32] [--threads 2] [--limit N]

Prints one JSON object: images, seconds (first image opened to last line written), images_per_second.
"""
import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

RECIPES = {
    # (resize shorter side, crop, divisor, mean, std)
    "efficientnet-lite": (256, 224, 1.0, [127.0, 127.0, 127.0], [128.0, 128.0, 128.0]),
    "imagenet": (256, 224, 255.0, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
}


def preprocess(path, recipe):
    resize, crop, divisor, mean, std = recipe
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        if w <= h:
            size = (resize, int(resize * h / w))
        else:
            size = (int(resize * w / h), resize)
        im = im.resize(size, Image.BILINEAR)
        left = int(round((size[0] - crop) / 2.0))
        top = int(round((size[1] - crop) / 2.0))
        im = im.crop((left, top, left + crop, top + crop))
        x = np.asarray(im, dtype=np.float32) / divisor
    x = (x - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return x.transpose(2, 0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("images")
    ap.add_argument("--out", required=True)
    ap.add_argument("--recipe", default="efficientnet-lite", choices=sorted(RECIPES))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()

    names = sorted(n for n in os.listdir(args.images) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    if args.limit:
        names = names[: args.limit]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    recipe = RECIPES[args.recipe]

    start = time.perf_counter()
    with open(args.out, "w") as out:
        for b in range(0, len(names), args.batch):
            chunk = names[b : b + args.batch]
            batch = np.stack([preprocess(os.path.join(args.images, n), recipe) for n in chunk])
            logits = session.run(None, {input_name: batch})[0]
            for k, name in enumerate(chunk):
                row = logits[k].astype(np.float64)
                top = np.argsort(-row, kind="stable")[:5]
                e = np.exp(row - row.max())
                p = e / e.sum()
                out.write(json.dumps({"index": b + k, "file": name, "top1": int(top[0]),
                                      "classes": [int(c) for c in top], "scores": [float(p[c]) for c in top]}) + "\n")
    seconds = time.perf_counter() - start
    print(json.dumps({"images": len(names), "seconds": seconds, "images_per_second": len(names) / seconds}))


if __name__ == "__main__":
    main()
