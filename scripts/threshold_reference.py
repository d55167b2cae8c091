#!/usr/bin/env python3
"""An independent numpy implementation of Octet's KL (entropy) threshold definition, written
directly from the definition (explicit P and Q arrays per candidate, no prefix sums), run on
synthetic histograms. Writes Tests/Fixtures/threshold_reference.json, which the Swift tests
compare ThresholdSearch.klBins against.

Definition (ThresholdSearch.klBins): for candidate i in levels..N (N = last non-empty bin + 1),
P = h[:i] with sum(h[i:]) added to P[i-1], normalized; Q = h[:i] merged into `levels` groups of
i // levels bins (the last group takes the rest), each group's mass spread evenly over the bins
where P > 0, normalized by sum(h[:i]); D = sum over P>0 of P log(P/Q), +inf if some P>0 has Q=0.
The smallest i with the smallest D wins.

usage: scripts/threshold_reference.py   (needs numpy)
"""
import json
import os

import numpy as np


def kl_bins(h, levels):
    h = np.asarray(h, dtype=np.float64)
    nz = np.nonzero(h)[0]
    if len(nz) == 0:
        return 0
    n = nz[-1] + 1
    if n <= levels:
        return int(n)
    best, best_d = n, np.inf
    for i in range(levels, n + 1):
        p = h[:i].copy()
        p[i - 1] += h[i:n].sum()
        width = i // levels
        q = np.zeros(i)
        for j in range(levels):
            a = j * width
            b = i if j == levels - 1 else a + width
            mask = p[a:b] > 0
            cnt = mask.sum()
            if cnt:
                q[a:b][mask] = h[a:b].sum() / cnt
        pn = p / p.sum()
        qn = q / h[:i].sum()
        m = pn > 0
        if np.any(qn[m] == 0):
            d = np.inf
        else:
            d = float(np.sum(pn[m] * np.log(pn[m] / qn[m])))
        if d < best_d:
            best, best_d = i, d
    return int(best)


def main():
    rng = np.random.default_rng(2026)
    cases = []
    for kind, levels in [("gaussian", 128), ("laplace", 128), ("relu-gaussian", 256), ("uniform", 256), ("spiky", 128), ("short", 128), ("outliers", 128)]:
        if kind == "gaussian":
            x = np.abs(rng.normal(0, 1, 200000)); top = 6.0
        elif kind == "laplace":
            x = np.abs(rng.laplace(0, 1, 200000)); top = 16.0
        elif kind == "relu-gaussian":
            x = np.maximum(rng.normal(0.5, 1, 200000), 0); x = x[x > 0]; top = 8.0
        elif kind == "uniform":
            x = rng.uniform(0, 3, 100000); top = 4.0
        elif kind == "spiky":
            x = np.concatenate([np.abs(rng.normal(0, 0.3, 100000)), np.full(50, 7.5)]); top = 8.0
        elif kind == "outliers":
            x = np.concatenate([np.abs(rng.normal(0, 1, 100000)), np.full(5, 40.0)]); top = 64.0
        else:
            x = rng.uniform(0, 0.5, 1000); top = 16.0
        h, _ = np.histogram(x, bins=4096, range=(0, top))
        h = h.astype(np.int64)
        cases.append({"name": kind, "levels": levels, "bins": [[int(k), int(h[k])] for k in np.nonzero(h)[0]],
                      "kl_bins": kl_bins(h, levels)})
        print(kind, cases[-1]["kl_bins"])
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "threshold_reference.json")
    with open(out, "w") as f:
        json.dump({"generator": "scripts/threshold_reference.py", "cases": cases}, f)


if __name__ == "__main__":
    main()
