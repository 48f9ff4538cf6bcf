#!/usr/bin/env python3
"""Profile one transformer layer in PyTorch with strata's CUPTI injection and make an op table.

Runs a Llama-style decoder layer (RMSNorm, QKV, rotary-free SDPA attention, output projection,
RMSNorm, SwiGLU MLP) or a GPT-style one (LayerNorm, GELU) forward and backward, at the shapes of
one tensor-parallel rank, under torch.autograd.profiler.emit_nvtx(record_shapes=True), with
libstrata_inject.so loaded through CUDA_INJECTION64_PATH. The library records every kernel with
CUPTI and attributes it to the aten op (NVTX range) that launched it; at exit it writes
strata-calls-PID.csv, which `strata-profile from-calls` turns into an op table.

    python3 profiler/scripts/profile_layer.py --gpu h100-sxm-80gb --hidden 8192 --heads 64 \\
        --kv-heads 8 --ffn 28672 --seq 8192 --tp 8 -o profiler/data/h100-sxm-80gb.csv

Needs a CUDA GPU, PyTorch, and strata built with CUDA (build/lib/libstrata_inject.so,
build/bin/strata-profile). Never run it under torch.profiler, nsys or ncu: CUPTI activity
tracing is process-wide and they would take it over.
"""

import argparse
import glob
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


class ProfileError(Exception):
    """A problem the user can fix; reported in one line."""


def _report(kind, value, tb):
    if issubclass(kind, ProfileError):
        print(f"profile_layer: {value}", file=sys.stderr)
    else:
        sys.__excepthook__(kind, value, tb)


sys.excepthook = _report
ROOT = os.path.dirname(os.path.dirname(HERE))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpu", required=True, help="strata GPU preset the table is for (topologies/gpus/NAME.yaml)")
    p.add_argument("--hidden", type=int, default=4096)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--kv-heads", type=int, default=8)
    p.add_argument("--ffn", type=int, default=14336)
    p.add_argument("--seq", type=int, default=8192)
    p.add_argument("--batch", type=int, default=1, help="micro-batch size")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel size: shard heads and FFN like one TP rank")
    p.add_argument("--activation", choices=["swiglu", "gelu"], default="swiglu")
    p.add_argument("--dtype", choices=["bf16", "fp16"], default="bf16")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="strata build folder")
    p.add_argument("-o", "--out", required=True, help="op table to write")
    return p.parse_args()


def run_layer(a):
    import torch
    import torch.nn.functional as F

    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float16
    dev = "cuda"
    h, t = a.hidden, a.tp
    hd = h // a.heads
    heads, kv = a.heads // t, max(1, a.kv_heads // t)
    f = a.ffn // t
    up = 2 * f if a.activation == "swiglu" else f
    w = lambda o, i: torch.nn.Parameter(torch.randn(o, i, device=dev, dtype=dtype) * 0.02)
    wqkv, wo, wup, wdown = w((heads + 2 * kv) * hd, h), w(h, heads * hd), w(up, h), w(h, f)
    n1 = torch.nn.Parameter(torch.ones(h, device=dev, dtype=dtype))
    n2 = torch.nn.Parameter(torch.ones(h, device=dev, dtype=dtype))
    x = torch.randn(a.batch, a.seq, h, device=dev, dtype=dtype, requires_grad=True)

    def norm(y, g):
        if a.activation == "swiglu":
            return F.rms_norm(y, (h,), g)
        return F.layer_norm(y, (h,), g)

    def layer(y):
        b, s, _ = y.shape
        qkv = F.linear(norm(y, n1), wqkv)
        q, k, v = qkv.split([heads * hd, kv * hd, kv * hd], dim=-1)
        q = q.view(b, s, heads, hd).transpose(1, 2)
        k = k.view(b, s, kv, hd).transpose(1, 2).repeat_interleave(heads // kv, dim=1)
        v = v.view(b, s, kv, hd).transpose(1, 2).repeat_interleave(heads // kv, dim=1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y + F.linear(o.transpose(1, 2).reshape(b, s, heads * hd), wo)
        z = F.linear(norm(y, n2), wup)
        if a.activation == "swiglu":
            gate, upv = z.chunk(2, dim=-1)
            z = F.silu(gate) * upv
        else:
            z = F.gelu(z)
        return y + F.linear(z, wdown)

    for _ in range(a.warmup):
        layer(x).sum().backward()
    torch.cuda.synchronize()
    with torch.autograd.profiler.emit_nvtx(record_shapes=True):
        for _ in range(a.repeats):
            layer(x).sum().backward()
        torch.cuda.synchronize()


def main():
    a = parse_args()
    if os.environ.get("STRATA_PROFILE_CHILD") == "1":
        run_layer(a)
        return
    inject = os.path.join(a.build, "lib", "libstrata_inject.so")
    profile = os.path.join(a.build, "bin", "strata-profile")
    for f in (inject, profile):
        if not os.path.exists(f):
            raise ProfileError(f"{f} is missing: build strata where CUDA is found (STRATA_WITH_CUPTI)")
    out_dir = tempfile.mkdtemp(prefix="strata-profile-")
    env = dict(os.environ, CUDA_INJECTION64_PATH=inject, STRATA_PROFILE_OUT=out_dir, STRATA_PROFILE_CHILD="1")
    # NVTX reaches CUPTI only when NVTX_INJECTION64_PATH names the libcupti the injection uses
    # (a second copy gets no markers). The library sets it itself when it can; set it here too, in
    # case an NVTX call comes before CUDA initialises.
    if "NVTX_INJECTION64_PATH" not in env:
        ldd = subprocess.run(["ldd", inject], capture_output=True, text=True).stdout
        for line in ldd.splitlines():
            if "libcupti" in line and "=>" in line:
                env["NVTX_INJECTION64_PATH"] = line.split("=>")[1].split("(")[0].strip()
    subprocess.run([sys.executable] + sys.argv, env=env, check=True)
    calls = glob.glob(os.path.join(out_dir, "strata-calls-*.csv"))
    if not calls:
        raise ProfileError(f"the injection wrote nothing to {out_dir} (did CUDA initialise?)")
    subprocess.run([profile, "from-calls", calls[0], "--gpu", a.gpu, "--dtype", a.dtype, "-o", a.out], check=True)
    print(f"profile_layer: kernels in {out_dir}, table in {a.out}")


if __name__ == "__main__":
    main()  # a ProfileError ends the run with its one-line message and exit status 1
