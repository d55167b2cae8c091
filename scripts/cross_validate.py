#!/usr/bin/env python3
"""K-fold cross-validation of calibration options (2 folds by default): the tables of docs/calibration.md.

The labelled images are split into K contiguous folds by file-name order. Each configuration
calibrates on the other K-1 folds and is scored on the fold it never saw (`octet eval`), for each
fold in turn. With 2 folds that is: calibrate on one half (`octet calibrate --limit N/2`, or
`--offset N/2`), score on the other, then swap; with more, each side is a folder of links to its
images (file names kept, so the labels file still applies; file-name order kept). Per fold: FP32
and INT8 top-1, their difference, top-1 agreement of INT8 with FP32 and the logits SQNR; then the
mean over folds and the spread (the largest minus the smallest fold); a model that is not a
classifier (a detector) is scored by its outputs' SQNR alone. Every row is compared with
the first configuration (the defaults).

usage: scripts/cross_validate.py [--octet .build/release/octet] [--model M] [--data D]
           [--preprocess efficientnet-lite] [--folds K] [--config 'name=flags' ...] [--json]
Without --config, every option of `octet calibrate` that sets a default decision is tried. With
--json, a configuration using --max-drop also gives its search's result on the validation rows.
Needs a release build of octet; uses nothing but the standard library.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

DEFAULT_CONFIGS = [
    ("defaults (kl, sensitivity margin 5 dB, bias correction on 8 samples, over-clip guard 3 dB)", ""),
    ("--method mse", "--method mse"),
    ("--method max", "--method max"),
    ("--method percentile", "--method percentile"),
    ("--sensitivity-margin off", "--sensitivity-margin off"),
    ("--sensitivity-margin 3", "--sensitivity-margin 3"),
    ("--sensitivity-margin 8", "--sensitivity-margin 8"),
    ("--bias-correction off", "--bias-correction off"),
    ("--weight-ranges outputs", "--weight-ranges outputs"),
    ("--bias-correction-cap 2 (NNCF's threshold)", "--bias-correction-cap 2"),
    ("--bias-correction-cap 2 --statistics-samples 32", "--bias-correction-cap 2 --statistics-samples 32"),
    ("--statistics-samples 32", "--statistics-samples 32"),
    ("--statistics-samples 64", "--statistics-samples 64"),
    ("--over-clip-margin off", "--over-clip-margin off"),
    ("--per-tensor", "--per-tensor"),
    ("--weight-bits 7", "--weight-bits 7"),
    ("--symmetric-activations", "--symmetric-activations"),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    return p.stdout


def images(data):
    return sorted(f for f in os.listdir(data) if f.lower().endswith((".jpg", ".jpeg", ".png")))


def link_folder(data, names, path):
    """A folder of symbolic links to `names` in `data` (the same file names, so the same labels)."""
    os.makedirs(path)
    for f in names:
        os.symlink(os.path.join(os.path.abspath(data), f), os.path.join(path, f))
    return path


def make_folds(args, k, work):
    """Per fold: (octet data flags to calibrate on the other folds, flags to score on this one)."""
    names = images(args.data)
    n = len(names)
    if k == 2:
        half = n // 2
        return [(["--limit", str(half)], ["--offset", str(half)]),   # calibrate on the first half
                (["--offset", str(half)], ["--limit", str(half)])]   # and on the second
    bounds = [n * i // k for i in range(k + 1)]
    folds = []
    for i in range(k):
        held = names[bounds[i]:bounds[i + 1]]
        rest = names[:bounds[i]] + names[bounds[i + 1]:]
        calib = link_folder(args.data, rest, os.path.join(work, f"fold{i}-calibrate"))
        score = link_folder(args.data, held, os.path.join(work, f"fold{i}-score"))
        folds.append((["--data", calib], ["--data", score]))
    return folds


def fold(args, flags, calib, held_out, work):
    """Calibrates with `calib` (octet data flags), evaluates on `held_out`; returns the scores."""
    out = os.path.join(work, "cal")
    common = ["--preprocess", args.preprocess]
    def data(side):   # a fold's own folder, or the whole folder with --offset/--limit
        return side if "--data" in side else ["--data", args.data, *side]
    calib, held_out = data(calib), data(held_out)
    start = time.monotonic()
    cal = json.loads(run([args.octet, "calibrate", args.model, *common, "--labels", args.labels, *calib, "--out", out,
                          "--report-samples", "1", "--json", *shlex.split(flags)]))
    seconds = time.monotonic() - start
    model = cal["paths"]["model"]
    ev = json.loads(run([args.octet, "eval", args.model, model, *common, "--labels", args.labels, *held_out, "--json"]))
    # A model that is not a classifier (a detector's map) is scored by its outputs' SQNR alone.
    scores = {"fp32_top1": ev.get("fp32_top1"), "int8_top1": ev.get("int8_top1"), "agreement": ev.get("agreement"),
              "sqnr_db": ev["sqnr_db"], "images": ev["images"], "calibrate_seconds": seconds}
    if cal.get("accuracy"):   # --max-drop: what the search saw on its validation rows and returned
        a = cal["accuracy"]
        scores["search"] = {"fp32": a["fp32"], "all_int8": a["allInt8"], "final": a["final"], "met": a["met"],
                            "returned": [r["layer"] for r in a["returned"]]}
    return scores


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    shared = os.path.join(os.path.dirname(root), "shared")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--octet", default=os.path.join(root, ".build/release/octet"))
    ap.add_argument("--model", default=os.path.join(shared, "models/efficientnet_lite0_fp32.onnx"))
    ap.add_argument("--data", default=os.path.join(shared, "data/imagenet-sample"))
    ap.add_argument("--labels", default=None, help="default: DATA/labels.csv")
    ap.add_argument("--preprocess", default="efficientnet-lite")
    ap.add_argument("--folds", type=int, default=2, help="K: calibrate on K-1 folds, score on the one left out (default 2)")
    ap.add_argument("--config", action="append", default=[], help="'name=flags for octet calibrate' (repeatable)")
    ap.add_argument("--json", action="store_true", help="one JSON line per configuration instead of the table")
    args = ap.parse_args()
    args.labels = args.labels or os.path.join(args.data, "labels.csv")
    configs = [tuple(c.split("=", 1)) if "=" in c else (c, c) for c in args.config] or DEFAULT_CONFIGS
    if args.folds < 2:
        raise SystemExit("--folds must be at least 2")
    n = len(images(args.data))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        folds = make_folds(args, args.folds, work)
        for name, flags in configs:
            scores = [fold(args, flags, c, e, work) for c, e in folds]
            rows.append((name, flags, scores))
            if args.json:
                print(json.dumps({"config": name, "flags": flags, "folds": scores}), flush=True)
    if args.json:
        return
    classifier = all(s["agreement"] is not None for _, _, scores in rows for s in scores)
    if not classifier:
        print(f"{args.folds}-fold cross-validation, {n} images, model {os.path.basename(args.model)} (not a classifier: output SQNR)\n")
        print("| configuration | fold | output SQNR | SQNR mean (spread) | vs defaults: Δ SQNR | calibrate s |")
        print("|---|---|---|---|---|---|")
        base = [s["sqnr_db"] for s in rows[0][2]]
        for name, _, scores in rows:
            sqnr = [s["sqnr_db"] for s in scores]
            for i, s in enumerate(scores):
                summary = f"{sum(sqnr) / len(sqnr):.2f} ({max(sqnr) - min(sqnr):.2f}) | {sum(sqnr) / len(sqnr) - sum(base) / len(base):+.2f} dB" if i == 0 else " | "
                print(f"| {name if i == 0 else ''} | {'ABCDEFGHIJ'[i] if i < 10 else i + 1} | {sqnr[i]:.2f} | {summary} | {s['calibrate_seconds']:.1f} |")
        return
    print(f"{args.folds}-fold cross-validation, {n} images (about {n // args.folds} per fold), model {os.path.basename(args.model)}\n")
    print("| configuration | fold | FP32 top-1 | INT8 top-1 | Δ top-1 | agreement | logits SQNR | Δ top-1 mean (spread) | agreement mean (spread) | SQNR mean (spread) | vs defaults: Δ agreement, Δ SQNR | calibrate s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = rows[0][2]
    def mean(xs): return sum(xs) / len(xs)
    for name, _, scores in rows:
        drop = [100 * (s["int8_top1"] - s["fp32_top1"]) for s in scores]
        agree = [100 * s["agreement"] for s in scores]
        sqnr = [s["sqnr_db"] for s in scores]
        vs = (f"{mean(agree) - mean([100 * s['agreement'] for s in base]):+.2f} pt, "
              f"{mean(sqnr) - mean([s['sqnr_db'] for s in base]):+.2f} dB")
        for i, s in enumerate(scores):
            summary = (f"{mean(drop):+.2f} ({max(drop) - min(drop):.2f}) | {mean(agree):.2f}% ({max(agree) - min(agree):.2f}) | "
                       f"{mean(sqnr):.2f} ({max(sqnr) - min(sqnr):.2f}) | {vs}") if i == 0 else " | | | "
            print(f"| {name if i == 0 else ''} | {'ABCDEFGHIJ'[i] if i < 10 else i + 1} | {100 * s['fp32_top1']:.1f}% | {100 * s['int8_top1']:.1f}% | "
                  f"{drop[i]:+.1f} | {agree[i]:.1f}% | {sqnr[i]:.2f} | {summary} | {s['calibrate_seconds']:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
