#!/usr/bin/env python3
"""ONNX Runtime throughput baseline for octet-bench: prints images/s (median of iterations).

usage: ort_bench.py MODEL --batch N --threads T [--iterations K] [--shape 3x640x640]
Needs: pip install onnxruntime numpy
"""
import argparse
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--shape", help="per-image input dims (default: the model's, symbolic ones 1)")
    args = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    if args.shape:
        shape = [args.batch] + [int(d) for d in args.shape.split("x")]
    else:
        shape = [args.batch] + [d if isinstance(d, int) else 1 for d in inp.shape[1:]]
    x = np.random.default_rng(7).uniform(-1, 1, size=shape).astype(np.float32)
    sess.run(None, {inp.name: x})
    times = []
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        sess.run(None, {inp.name: x})
        times.append(time.perf_counter() - t0)
    times.sort()
    print(args.batch / times[len(times) // 2])


if __name__ == "__main__":
    main()
