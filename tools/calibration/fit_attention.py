#!/usr/bin/env python3
"""Fits the fused-attention curves of the GPU presets to ../shared/validation/hopper/attention.csv.

For each GPU class, kernel library (flash2, flash3, cudnn) and direction it fits
    efficiency(head_dim, s, causal) = E[head_dim] * n / (n + c)                  (non-causal)
                                    = E[head_dim] * C * n / (n + 1 + 2c)          (causal)
with n = s / 128 key/value blocks per query block, c the fixed cost of a query block in
key/value blocks, and C the long-sequence causal/non-causal ratio (docs/modeling.md). E is the
geometric mean of the measured/shape ratios per head dim; c and C by grid search on squared
relative error. Prints the YAML the presets carry and the fit's errors.

usage: tools/calibration/fit_attention.py [PATH/attention.csv]
"""
import csv
import math
import os
import sys

BLOCK = 128
PEAK = {"hopper": 989.4e12, "gb200": 2500e12}


def classify(row):
    """(gpu class, library, direction) of a row, or None if the fit does not use it."""
    gpu, impl, dtype = row["gpu"], row["impl"], row["dtype"].lower()
    if "fp8" in dtype or not row["head_dim"].isdigit() or row["causal"] not in ("True", "False"):
        return None
    if row["direction"] not in ("fwd", "bwd", "fwd+bwd") or "determinis" in impl:
        return None
    if "gpt_oss" in row["note"]:  # attention sinks / sliding window: not plain causal attention
        return None
    if gpu.startswith("H100 SXM5") or gpu.startswith("H200"):
        cls = "hopper"
    elif gpu.startswith("GB200"):
        cls = "gb200"
    else:
        return None
    if impl in ("FlashAttention-2", "PyTorch SDPA (flash)", "PyTorch SDPA flash (FA2)") or impl.startswith(
            "FlashAttention-2 2.7"):
        lib = "flash2"
    elif impl == "FlashAttention-3":
        lib = "flash3"
    elif impl in ("cuDNN", "cuDNN SDPA"):
        lib = "cudnn"
    else:
        return None
    return cls, lib, row["direction"]


def shape(s, causal, c, C):
    n = s / BLOCK
    return C * n / (n + 1 + 2 * c) if causal else n / (n + c)


def fit(rows, peak):
    hds = sorted({int(r["head_dim"]) for r in rows})
    causal_seen = any(r["causal"] == "True" for r in rows) and any(r["causal"] == "False" for r in rows)
    best = None
    for ci in range(0, 161):
        c = ci * 0.05
        for Ci in range(0, 41) if causal_seen else [20]:
            C = 0.80 + 0.01 * Ci if causal_seen else 1.0
            E, err = {}, 0.0
            for hd in hds:
                sub = [r for r in rows if int(r["head_dim"]) == hd]
                logs = [math.log(float(r["tflops"]) * 1e12 / peak) -
                        math.log(shape(int(r["seq_len"]), r["causal"] == "True", c, C)) for r in sub]
                E[hd] = math.exp(sum(logs) / len(logs))
                err += sum((math.exp(v) / E[hd] - 1) ** 2 for v in logs)
            if best is None or err < best[0]:
                best = (err, c, C, E)
    return best[1:]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../shared/validation/hopper/attention.csv")
    groups = {}
    for row in csv.DictReader(open(path, newline="")):
        k = classify(row)
        if k:
            groups.setdefault(k, []).append(row)
    # A fwd+bwd row gives a backward row once the forward curve is known: the backward's FLOPs
    # are 2.5 x the forward's, so T_bwd = 2.5 / (3.5 / T_fwd+bwd - 1 / T_fwd).
    fits = {}
    for (cls, lib, d), rows in sorted(groups.items()):
        if d == "fwd":
            fits[cls, lib] = fit(rows, PEAK[cls])
    for (cls, lib, d), rows in list(groups.items()):
        if d != "fwd+bwd" or (cls, lib) not in fits:
            continue
        c, C, E = fits[cls, lib]
        for r in rows:
            hd = int(r["head_dim"])
            if hd not in E:
                continue
            fwd = E[hd] * shape(int(r["seq_len"]), r["causal"] == "True", c, C) * PEAK[cls] / 1e12
            inv = 3.5 / float(r["tflops"]) - 1 / fwd
            if inv > 0:
                groups.setdefault((cls, lib, "bwd"), []).append(dict(r, direction="bwd", tflops=str(2.5 / inv)))
    for (cls, lib, d), rows in sorted(groups.items()):
        if d == "fwd+bwd":
            continue
        c, C, E = fit(rows, PEAK[cls])
        errs = []
        for r in rows:
            p = E[int(r["head_dim"])] * shape(int(r["seq_len"]), r["causal"] == "True", c, C) * PEAK[cls]
            errs.append(p / (float(r["tflops"]) * 1e12) - 1)
        eff = ", ".join(f"{hd}: {e:.3f}" for hd, e in sorted(E.items()))
        print(f"{cls:10} {lib:6} {d}: {{efficiency: {{{eff}}}, causal: {C:.2f}, fixed_blocks: {c:.2f}}}"
              f"   # {len(rows)} rows, mean |err| {100 * sum(map(abs, errs)) / len(errs):.1f} %,"
              f" worst {100 * max(map(abs, errs)):.1f} %")


if __name__ == "__main__":
    main()
