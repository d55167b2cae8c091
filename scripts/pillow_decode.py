#!/usr/bin/env python3
"""Decodes image files with Pillow as the preprocessing reference does (`Image.open(f).convert("RGB")`)
and prints one JSON line: {"fnv1a64": [...], "errors": [...]}, per file the FNV-1a 64-bit hash of
the RGB bytes in 16 hex digits and null, or null and Pillow's error. The tests compare Octet's
decoder with it on damaged JPEGs (which Pillow decodes and which it refuses).

usage: scripts/pillow_decode.py FILE [FILE ...]
Needs: pip install pillow numpy onnxruntime (the hash is make_reference_outputs.py's)
"""
import json
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference_outputs import fnv1a64  # noqa: E402


def main():
    hashes, errors = [], []
    for path in sys.argv[1:]:
        try:
            pixels = Image.open(path).convert("RGB").tobytes()
            hashes.append(f"{fnv1a64(pixels):016x}")
            errors.append(None)
        except Exception as e:  # Pillow's refusal is the answer, whatever its type
            hashes.append(None)
            errors.append(str(e))
    print(json.dumps({"fnv1a64": hashes, "errors": errors}))


if __name__ == "__main__":
    main()
