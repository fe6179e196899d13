#!/usr/bin/python3
"""Train the same TernaryLM architecture in PyTorch (Debian's python3-torch) on
random tokens and print tok/s and peak RSS, for a side-by-side comparison with
`tlm bench` (scripts/bench_compare.sh runs both).

usage: bench_torch.py PRESET BATCH STEPS [THREADS]
The model is tests/torch_ref.py's (BitLinear with the straight-through
estimator, ternary weights, 8-bit activations), initialised N(0, 0.02)."""
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from torch_ref import Model  # noqa: E402

PRESETS = {
    "nano": dict(dim=64, layers=2, heads=2, hidden=170, vocab=4096, ctx=32),
    "tiny": dict(dim=256, layers=6, heads=4, hidden=683, vocab=4096, ctx=128),
    "paper": dict(dim=768, layers=12, heads=12, hidden=2050, vocab=30522, ctx=128),
}


def tensors(p):
    d, h, V = p["dim"], p["hidden"], p["vocab"]
    g = torch.Generator().manual_seed(0)
    t = {"token_emb.weight": torch.randn(V, d, generator=g) * 0.02}
    for l in range(p["layers"]):
        pre = "blocks.%d." % l
        t[pre + "norm1.weight"] = torch.ones(d)
        t[pre + "norm2.weight"] = torch.ones(d)
        for n in ("q", "k", "v", "out"):
            t[pre + "attn.%s_proj.weight" % n] = torch.randn(d, d, generator=g) * 0.02
        t[pre + "mlp.gate_proj.weight"] = torch.randn(h, d, generator=g) * 0.02
        t[pre + "mlp.up_proj.weight"] = torch.randn(h, d, generator=g) * 0.02
        t[pre + "mlp.down_proj.weight"] = torch.randn(d, h, generator=g) * 0.02
    t["norm.weight"] = torch.ones(d)
    t["head.weight"] = torch.randn(V, d, generator=g) * 0.02
    t["head.bias"] = torch.zeros(V)
    return t


def main():
    preset, B, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else os.cpu_count()
    torch.set_num_threads(threads)
    p = PRESETS[preset]
    cfg = {"dim": p["dim"], "layers": p["layers"], "heads": p["heads"], "max_ctx": p["ctx"]}
    model = Model(cfg, ["ternary"] * (7 * p["layers"]), tensors(p))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.98), eps=1e-8,
                            weight_decay=0.01)
    T, V = p["ctx"], p["vocab"]
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    step()
    t = time.time()
    for _ in range(steps):
        step()
    t = time.time() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("torch %s: batch %d x %d, %d threads, %.1f ms/step, %.0f tok/s, peak RSS %.0f MB"
          % (preset, B, T, threads, 1e3 * t / steps, B * T * steps / t, rss))


if __name__ == "__main__":
    main()
