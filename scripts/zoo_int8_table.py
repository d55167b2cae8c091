#!/usr/bin/env python3
"""Turns the JSON lines of `scripts/zoo_int8_check.sh` into the Markdown table of
docs/benchmarks.md ("ONNX Runtime's own files"): per model and file, ONNX Runtime's integer/float
convolutions, then the lowest output's SQNR (and the classifiers' top-1 agreement) of Octet vs
fused ONNX Runtime, ONNX Runtime vs itself on the re-encoded file, fused vs unfused ONNX Runtime,
Octet vs unfused ONNX Runtime, and Octet INT8 vs FP32. 999 dB means identical outputs.

usage: FILES="octet ort ort-u8" scripts/zoo_int8_check.sh OCTET SHARED 32 128 | scripts/zoo_int8_table.py
"""
import json
import sys


def lowest(outputs, key):
    values = [v.get(key) for v in outputs.values()]
    values = [v for v in values if v is not None]
    return f"{min(values):.1f} dB" if values else "n/a"


def share(x):
    return "" if x is None else f" {100 * x:.1f}%"


def main():
    print("| model | file | ONNX Runtime's convolutions integer/float | Octet vs fused ONNX Runtime | ONNX Runtime vs itself re-encoded "
          "| fused vs unfused ONNX Runtime | Octet vs unfused ONNX Runtime | Octet INT8 vs FP32 |")
    print("|---|---|---|---|---|---|---|---|")
    for line in sys.stdin:
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "error" in r:
            print(f"| {r['model']} | {r['file']} | error: {r['error']} | | | | | |")
            continue
        o, convs = r["outputs"], r.get("ort_convs", {})
        print(f"| {r['model']} | {r['file']} | {convs.get('integer', '?')}/{convs.get('float', '?')} "
              f"| {lowest(o, 'octet_vs_ort_int8_sqnr_db')}{share(r.get('octet_vs_ort_int8_agreement'))} "
              f"| {lowest(o, 'ort_vs_ort_reencoded_sqnr_db')}{share(r.get('ort_vs_ort_reencoded_agreement'))} "
              f"| {lowest(o, 'ort_vs_ort_unfused_sqnr_db')} | {lowest(o, 'octet_vs_ort_unfused_sqnr_db')} "
              f"| {lowest(o, 'octet_int8_vs_fp32_sqnr_db')}{share(r.get('octet_int8_vs_fp32_agreement'))} |")


if __name__ == "__main__":
    main()
