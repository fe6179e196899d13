#!/usr/bin/python3
"""An independent PyTorch TernaryLM, checked against tlm's C engine.

Reads OUTDIR/model.safetensors (weights + metadata written by tlm),
OUTDIR/ref.json (batches, logits, loss, ten training-step losses) and
OUTDIR/grads.safetensors (tlm's gradients of the first batch), rebuilds the
model in PyTorch from the paper's description (BitLinear with an 8-bit
per-token activation quantizer, absmean ternary weights, straight-through
gradients), and prints TAP: logits, loss, every gradient and ten AdamW steps
(torch.optim.AdamW + OneCycleLR + clip_grad_norm_) must match to 1e-4.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
n_case = 0
n_fail = 0


def tap(ok, name):
    global n_case, n_fail
    n_case += 1
    if not ok:
        n_fail += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (n_case, name), flush=True)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    meta = header.pop("__metadata__", {})
    base = 8 + hlen
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32"
        a, b = t["data_offsets"]
        arr = np.frombuffer(blob[base + a:base + b], dtype="<f4").reshape(t["shape"])
        tensors[name] = torch.tensor(arr.copy())
    return tensors, meta


def parse_config(meta):
    cfg = {}
    for line in meta["tlm.config"].splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            cfg[k] = v
    prec = meta["tlm.precision"].split(",")
    return cfg, prec


def act_quant(x):
    scale = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return (x * scale).round().clamp(-128, 127) / scale


def weight_quant(w, mode):
    if mode == "ternary":
        g = w.abs().mean().clamp(min=1e-5)
        return (w / g).round().clamp(-1, 1) * g
    if mode == "int8":
        s = 127.0 / w.abs().amax(dim=1, keepdim=True).clamp(min=1e-5)
        return (w * s).round().clamp(-128, 127) / s
    return w


class BitLinearFn(torch.autograd.Function):
    """y = Q(x) Q(W)^T; backward: dx = dy Q(W), dW = dy^T x (unquantized x)."""

    @staticmethod
    def forward(ctx, x, w, mode):
        wq = weight_quant(w, mode)
        xq = x if mode == "fp32" else act_quant(x)
        ctx.save_for_backward(x, wq)
        return xq @ wq.t()

    @staticmethod
    def backward(ctx, gy):
        x, wq = ctx.saved_tensors
        gx = gy @ wq
        gw = gy.reshape(-1, gy.shape[-1]).t() @ x.reshape(-1, x.shape[-1])
        return gx, gw, None


class Model(torch.nn.Module):
    def __init__(self, cfg, prec, tensors):
        super().__init__()
        self.d = int(cfg["dim"])
        self.L = int(cfg["layers"])
        self.nh = int(cfg["heads"])
        self.hd = self.d // self.nh
        self.prec = prec
        self.p = torch.nn.ParameterDict(
            {k.replace(".", "__"): torch.nn.Parameter(v.clone()) for k, v in tensors.items()})
        inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        t = torch.arange(int(cfg["max_ctx"])).float()
        freqs = torch.outer(t, inv)
        emb = torch.cat([freqs, freqs], dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

    def rope(self, x):  # x [B, nh, T, hd]
        T = x.shape[2]
        x1, x2 = x[..., :self.hd // 2], x[..., self.hd // 2:]
        rot = torch.cat([-x2, x1], dim=-1)
        return x * self.cos[:T] + rot * self.sin[:T]

    def lin(self, x, layer, j, name):
        return BitLinearFn.apply(x, self.w(name), self.prec[layer * 7 + j])

    def forward(self, idx):
        B, T = idx.shape
        x = self.w("token_emb.weight")[idx]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(self.L):
            pre = "blocks.%d." % l
            h = self.rms(x, self.w(pre + "norm1.weight"))
            q = self.lin(h, l, 0, pre + "attn.q_proj.weight")
            k = self.lin(h, l, 1, pre + "attn.k_proj.weight")
            v = self.lin(h, l, 2, pre + "attn.v_proj.weight")
            q, k, v = (t.view(B, T, self.nh, self.hd).transpose(1, 2) for t in (q, k, v))
            q, k = self.rope(q), self.rope(k)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd) + mask
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.d)
            x = x + self.lin(y, l, 3, pre + "attn.out_proj.weight")
            h = self.rms(x, self.w(pre + "norm2.weight"))
            g = self.lin(h, l, 4, pre + "mlp.gate_proj.weight")
            u = self.lin(h, l, 5, pre + "mlp.up_proj.weight")
            x = x + self.lin(F.silu(g) * u, l, 6, pre + "mlp.down_proj.weight")
        x = self.rms(x, self.w("norm.weight"))
        return x @ self.w("head.weight").t() + self.w("head.bias")


def rel(a, b):
    return float((a - b).norm() / max(float(b.norm()), 1e-12))


def main(out):
    tensors, meta = read_safetensors(out + "/model.safetensors")
    grads, _ = read_safetensors(out + "/grads.safetensors")
    ref = json.load(open(out + "/ref.json"))
    cfg, prec = parse_config(meta)
    B, T, steps = ref["B"], ref["T"], ref["steps"]
    V = int(cfg["vocab"])
    xs = torch.tensor(ref["x"]).view(steps, B, T)
    ys = torch.tensor(ref["y"]).view(steps, B, T)
    eps = ref["label_smoothing"]
    tap(len(set(prec)) == 3, "weights carry all three precisions: %s" % sorted(set(prec)))

    model = Model(cfg, prec, tensors)
    logits = model(xs[0])
    loss = F.cross_entropy(logits.view(-1, V), ys[0].view(-1), label_smoothing=eps)
    nll = F.cross_entropy(logits.view(-1, V), ys[0].view(-1))
    c_logits = torch.tensor(ref["logits"]).view(B, T, V)
    e = rel(c_logits, logits.detach())
    tap(e < 1e-4, "logits match (relative error %.2e)" % e)
    e = abs(ref["loss"] - loss.item()) / loss.item()
    tap(e < 1e-4, "smoothed loss %.6f vs torch %.6f" % (ref["loss"], loss.item()))
    e = abs(ref["nll"] - nll.item()) / nll.item()
    tap(e < 1e-4, "true NLL %.6f vs torch %.6f" % (ref["nll"], nll.item()))
    loss.backward()
    worst, worst_name = 0.0, ""
    for name, g in grads.items():
        tg = model.w(name).grad
        e = rel(g, tg)
        if e > worst:
            worst, worst_name = e, name
        if name.startswith("blocks.0.") or not name.startswith("blocks."):
            tap(e < 1e-4, "gradient %s (relative error %.2e)" % (name, e))
    tap(worst < 1e-4, "all %d gradients match (worst %.2e in %s)" % (len(grads), worst, worst_name))

    model = Model(cfg, prec, tensors)
    lr = ref["lr"]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-8,
                            weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=ref["schedule_steps"], pct_start=0.1,
                                                anneal_strategy="cos", cycle_momentum=False,
                                                div_factor=25.0, final_div_factor=1e4)
    losses, lrs = [], []
    for s in range(steps):
        opt.zero_grad()
        lg = model(xs[s])
        l = F.cross_entropy(lg.view(-1, V), ys[s].view(-1), label_smoothing=eps)
        l.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        losses.append(l.item())
    e = max(abs(a - b) / b for a, b in zip(ref["step_lrs"], lrs))
    tap(e < 1e-5, "one-cycle learning rates match torch OneCycleLR (worst %.2e)" % e)
    e = max(abs(a - b) / b for a, b in zip(ref["step_losses"], losses))
    tap(e < 1e-4, "ten AdamW steps: losses match (worst relative %.2e; last %.5f vs %.5f)"
        % (e, ref["step_losses"][-1], losses[-1]))
    tap(losses[-1] < losses[0], "loss falls over the ten steps (%.4f -> %.4f)" % (losses[0], losses[-1]))
    print("1..%d" % n_case)
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
