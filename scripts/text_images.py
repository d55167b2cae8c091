#!/usr/bin/env python3
"""Writes photos with text on them: a text detector's calibration and evaluation images.

The shared images are ImageNet photos, most without text, on which PP-OCRv4 det's probability
map is near zero everywhere: its output SQNR then measures noise in an empty map. This draws
lines of random words (Pillow's default scalable font, random size, colour, position and
rotation-free layout) on each photo, deterministically for a given Pillow (seed = the image's index), so a
detector can be calibrated and scored on images that hold what it detects.

usage: scripts/text_images.py SRC_DIR OUT_DIR [--count N] [--offset K] [--size 640]
Writes OUT_DIR/NNNN.jpg (quality 95), the source images in file-name order from OFFSET.
Needs: pip install pillow (with FreeType, as the PyPI wheels are).
"""
import argparse
import os
import random

from PIL import Image, ImageDraw, ImageFont

WORDS = ("invoice total amount date street road north south price sale open closed exit entry "
         "station coffee market bank hotel free parking station number phone email www order "
         "receipt tax cash card change thank you welcome 2026 100 42.50 No. 7 A4 km/h OCR text").split()


def draw_text(image, rng):
    d = ImageDraw.Draw(image)
    w, h = image.size
    for _ in range(rng.randint(3, 7)):
        size = rng.randint(max(12, h // 40), max(16, h // 9))
        font = ImageFont.load_default(size=size)
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
        x, y = rng.randint(0, max(1, w // 2)), rng.randint(0, max(1, h - size))
        dark = rng.random() < 0.6
        fill = tuple(rng.randint(0, 60) for _ in range(3)) if dark else tuple(rng.randint(200, 255) for _ in range(3))
        if rng.random() < 0.4:   # a plate behind the line, as on signs and labels
            box = d.textbbox((x, y), line, font=font)
            plate = tuple(255 - c for c in fill)
            d.rectangle((box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4), fill=plate)
        d.text((x, y), line, font=font, fill=fill)
    return image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--size", type=int, default=640, help="shorter side after resizing (before drawing)")
    a = ap.parse_args()
    names = sorted(n for n in os.listdir(a.src) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    os.makedirs(a.out, exist_ok=True)
    for i, name in enumerate(names[a.offset:a.offset + a.count]):
        image = Image.open(os.path.join(a.src, name)).convert("RGB")
        s = a.size / min(image.size)
        image = image.resize((max(a.size, round(image.width * s)), max(a.size, round(image.height * s))), Image.BILINEAR)
        draw_text(image, random.Random(a.offset + i)).save(os.path.join(a.out, f"{a.offset + i:04d}.jpg"), quality=95)
    print(f"wrote {min(a.count, max(0, len(names) - a.offset))} images to {a.out}")


if __name__ == "__main__":
    main()
