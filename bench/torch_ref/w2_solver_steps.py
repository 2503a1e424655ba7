#!/usr/bin/env python3
"""PyTorch reference for bench_w2_solvers: one training step of the W2 benchmark's solvers.

    /usr/bin/python3 bench/torch_ref/w2_solver_steps.py [--threads 2] [--quick] --out bench/torch_ref/cpu.json

Written for brenier (not taken from the benchmark's repository); it mirrors brenier's W2Solver
(ot/solvers/w2_solver.cpp, w2_losses.cpp, mmb.cpp) operation by operation, in the style of the
benchmark's notebooks (spec/algorithms.md §2.1, §2.3):

  DenseICNN   hidden [max(2D,64), max(2D,64), max(D,32)], rank 1, CELU, s = 1e-4, N(0, 0.1^2) init
  mmb         one Adam over psi and psi_bar on (L_XY(psi) + L_YX(psi_bar)) / 2, batch-argmax conjugate
  mmv2        outer Adam step on psi (Y_hat = grad psi_bar(Y) fixed), then 15 inner Adam steps on psi_bar
              with psi frozen, each on a fresh Y batch (double backward), clamp after every step
  w2gn        one Adam over both on L_psi + D * (two cycle terms), clamp after the step

Batch 1024 from each distribution (8 fixed batches cycled, as in bench_w2_solvers), f32, Adam lr 1e-3.
Time = median wall time of whole steps after warm-up, as in ../shared/bench/ref/workloads.py.
Debian's torch needs `libopenblas0-openmp`; run with the tuned-malloc environment REFERENCE.md
describes (this script re-executes itself with it unless --default-malloc is given).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn

TUNED_MALLOC = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "1099511627776",
                "MALLOC_TOP_PAD_": "1073741824"}


class ConvexQuadratic(nn.Module):
    def __init__(self, dim, out, rank):
        super().__init__()
        self.quadratic_decomposed = nn.Parameter(torch.randn(dim, rank, out) * 0.1)
        self.weight = nn.Parameter(torch.randn(out, dim) * 0.1)
        self.bias = nn.Parameter(torch.randn(out) * 0.1)

    def forward(self, x):
        quad = (x @ self.quadratic_decomposed.flatten(1)).view(x.shape[0], -1, self.weight.shape[0])
        return (quad ** 2).sum(1) + x @ self.weight.t() + self.bias


class DenseICNN(nn.Module):
    def __init__(self, dim, s=1e-4, rank=1):
        super().__init__()
        hidden = [max(2 * dim, 64), max(2 * dim, 64), max(dim, 32)]
        self.s = s
        self.quadratic_layers = nn.ModuleList(ConvexQuadratic(dim, h, rank) for h in hidden)
        self.convex_layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(hidden[:-1], hidden[1:]))
        self.final_layer = nn.Linear(hidden[-1], 1, bias=False)
        for p in self.convex_layers.parameters():
            nn.init.normal_(p, std=0.1)
        nn.init.normal_(self.final_layer.weight, std=0.1)

    def forward(self, x):
        z = self.quadratic_layers[0](x)
        for quad, convex in zip(self.quadratic_layers[1:], self.convex_layers):
            z = torch.celu(convex(z) + quad(x))
        return (self.final_layer(z) + 0.5 * self.s * (x ** 2).sum(1, keepdim=True)).view(-1)

    def push(self, x, create_graph):
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        return torch.autograd.grad(self(x).sum(), x, create_graph=create_graph)[0]

    @torch.no_grad()
    def convexify(self):
        for layer in self.convex_layers:
            layer.weight.clamp_(min=0)
        self.final_layer.weight.clamp_(min=0)


def mmb_objective(psi_x, x, y):
    with torch.no_grad():
        sigma = (y @ x.t() - psi_x.detach()).argmax(1)
        inner = (x[sigma] * y).sum(1).mean()
    return psi_x.mean() - psi_x[sigma].mean() + inner


class Steps:
    def __init__(self, method, dim):
        torch.manual_seed(dim)
        self.method = method
        self.psi, self.psi_bar = DenseICNN(dim), DenseICNN(dim)
        self.xs = [torch.randn(1024, dim) for _ in range(8)]
        self.ys = [torch.randn(1024, dim) + 1.0 for _ in range(8)]
        self.k = 0
        both = list(self.psi.parameters()) + list(self.psi_bar.parameters())
        if method == "mmv2":
            self.opt = torch.optim.Adam(self.psi.parameters(), lr=1e-3)
            self.opt_bar = torch.optim.Adam(self.psi_bar.parameters(), lr=1e-3)
        else:
            self.opt = torch.optim.Adam(both, lr=1e-3)
        self.lam = float(dim)

    def next_y(self):
        self.k += 1
        return self.ys[self.k % 8]

    def __call__(self):
        x, y = self.xs[self.k % 8], self.next_y()
        psi, psi_bar = self.psi, self.psi_bar
        if self.method == "mmb":
            self.opt.zero_grad()
            loss = 0.5 * (mmb_objective(psi(x), x, y) + mmb_objective(psi_bar(y), y, x))
            loss.backward()
            self.opt.step()
        elif self.method == "mmv2":
            y_inv = psi_bar.push(y, create_graph=False).detach()
            self.opt.zero_grad()
            (psi(x).mean() - psi(y_inv).mean()).backward()
            self.opt.step()
            psi.convexify()
            for p in psi.parameters():
                p.requires_grad_(False)
            for _ in range(15):
                y_k = self.next_y()
                self.opt_bar.zero_grad()
                y_hat = psi_bar.push(y_k, create_graph=True)
                (psi(y_hat) - (y_hat * y_k).sum(1)).mean().backward()
                self.opt_bar.step()
                psi_bar.convexify()
            for p in psi.parameters():
                p.requires_grad_(True)
        else:  # w2gn
            self.opt.zero_grad()
            x_leaf = x.detach().requires_grad_(True)
            psi_x = psi(x_leaf)
            x_push = torch.autograd.grad(psi_x.sum(), x_leaf, create_graph=True)[0]
            y_inv = psi_bar.push(y, create_graph=True)
            potential = psi_x.mean() - psi(y_inv.detach()).mean()
            cycle = ((psi.push(y_inv, True) - y) ** 2).mean() + ((psi_bar.push(x_push, True) - x) ** 2).mean()
            (potential + self.lam * cycle).backward()
            self.opt.step()
            psi.convexify()
            psi_bar.convexify()


def median_ms(step, warmup, min_iters, min_seconds):
    for _ in range(warmup):
        step()
    times, start = [], time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), len(times)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def parse_args(description, extra=None):
    """The reference scripts' command line; re-executes with the tuned malloc unless --default-malloc, and sets
    torch's thread count. `extra(parser)` adds a script's own flags."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--default-malloc", action="store_true", help="do not re-execute with the tuned malloc")
    if extra:
        extra(parser)
    args = parser.parse_args()
    if not args.default_malloc and any(os.environ.get(k) != v for k, v in TUNED_MALLOC.items()):
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **TUNED_MALLOC})
    torch.set_num_threads(args.threads)
    return args


def main():
    args = parse_args(__doc__.split("\n")[0])
    steps = {}
    for method in ("mmb", "mmv2", "w2gn"):
        for dim in (2, 16, 64):
            slow = method == "mmv2"
            ms, n = median_ms(Steps(method, dim), 2 if slow else 5, 3 if args.quick else (7 if slow else 20),
                              0.3 if args.quick else 2.0)
            steps[f"{method}/{dim}"] = {"median_ms": round(ms, 3), "timed_steps": n}
            print(f"{method:5s} dim {dim:3d}: {ms:9.2f} ms ({n} steps)", flush=True)
    write_result(args.out, steps, args.threads, args.default_malloc)


def write_result(path, steps, threads, default_malloc):
    """Writes the medians with the machine and settings they were measured with, atomically."""
    result = {"machine": f"{cpu_model()}, {os.cpu_count()} hardware threads", "torch": torch.__version__,
              "threads": threads, "malloc": "default" if default_malloc else "tuned",
              "date": datetime.date.today().isoformat(), "steps": steps}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
