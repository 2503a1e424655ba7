#!/usr/bin/env python3
"""PyTorch reference for bench_diotm: one DIOTM training step (potential update + map update).

    /usr/bin/python3 bench/torch_ref/diotm_step.py [--threads 2] [--quick] [--device cpu|cuda] --out FILE

Written for brenier (DIOTM's code is not public); it mirrors brenier's DiotmSolver (ot/solvers/diotm.cpp,
diotm_objective.cpp; spec/algorithms.md §4) operation by operation:

  maps        T(x) = x + MLP(x), MLP D -> 256 -> 256 -> 256 -> D, SiLU, zero-initialized output (§4.3)
  potential   V(t, x) = MLP([x, emb(t)]), D + 128 -> 128 -> 128 -> 128 -> 1, SiLU; emb: 128-d sinusoidal,
              f_k = 1e4^(-k / 63), [sin(t f), cos(t f)] (§4.3)
  potential   x_t = (1-t)x + tT(x), y_t = (1-t)S(y) + ty (no grad); loss = mean V(t_x, x_t) - mean V(t_y, y_t)
  update      + 0.1 * mean |dV/dt + |grad_z V|^2 / (4 alpha)| on the 2048 points (create_graph), alpha = 1/2;
              Adam(1e-4, betas 0.5, 0.9)
  map update  L = mean(alpha t |x - T(x)|^2 - V(t_x, x_t)) + mean(alpha (1-t) |y - S(y)|^2 + V(t_y, y_t)),
              gradients w.r.t. the maps' parameters only; Adam(1.6e-4, betas 0.5, 0.9)

Batch 1024 per side (8 fixed batches cycled, as bench_diotm), f32, fresh t ~ U[0, 1] per point and update.
Time = median wall time of whole steps after warm-up (CUDA: synchronized). Debian's torch needs
`libopenblas0-openmp`; the script re-executes itself with the tuned malloc of w2_solver_steps.py.
"""
import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from w2_solver_steps import median_ms, parse_args, write_result  # noqa: E402

ALPHA, LAMBDA = 0.5, 0.1


def mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class ResidualMap(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = mlp([dim, 256, 256, 256, dim])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x):
        return x + self.net(x)


class TimePotential(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = mlp([dim + 128, 128, 128, 128, 1])
        self.register_buffer("freqs", torch.exp(-math.log(1e4) / 63 * torch.arange(64, dtype=torch.float32)))

    def forward(self, t, x):
        args = t[:, None] * self.freqs[None, :]
        return self.net(torch.cat([x, torch.sin(args), torch.cos(args)], 1)).view(-1)


class Step:
    def __init__(self, dim, device):
        torch.manual_seed(0)
        self.device = device
        self.fwd, self.bwd, self.pot = ResidualMap(dim).to(device), ResidualMap(dim).to(device), TimePotential(dim).to(device)
        self.map_params = list(self.fwd.parameters()) + list(self.bwd.parameters())
        self.map_opt = torch.optim.Adam(self.map_params, lr=1.6e-4, betas=(0.5, 0.9))
        self.pot_opt = torch.optim.Adam(self.pot.parameters(), lr=1e-4, betas=(0.5, 0.9))
        self.xs = [torch.randn(1024, dim) for _ in range(8)]
        self.ys = [torch.randn(1024, dim) + 1.0 for _ in range(8)]
        self.k = 0

    def batches(self):
        # Host batches moved to the device, as DiotmSolver does with host samplers.
        x, y = self.xs[self.k % 8].to(self.device), self.ys[self.k % 8].to(self.device)
        self.k += 1
        return x, y, torch.rand(1024, device=self.device), torch.rand(1024, device=self.device)

    def __call__(self):
        x, y, tx, ty = self.batches()
        with torch.no_grad():
            xt = (1 - tx[:, None]) * x + tx[:, None] * self.fwd(x)
            yt = (1 - ty[:, None]) * self.bwd(y) + ty[:, None] * y
        loss = self.pot(tx, xt).mean() - self.pot(ty, yt).mean()
        t_all = torch.cat([tx, ty]).requires_grad_(True)
        z_all = torch.cat([xt, yt]).requires_grad_(True)
        dt, dz = torch.autograd.grad(self.pot(t_all, z_all).sum(), [t_all, z_all], create_graph=True)
        loss = loss + LAMBDA * (dt + (dz ** 2).sum(1) / (4 * ALPHA)).abs().mean()
        self.pot_opt.zero_grad()
        grads = torch.autograd.grad(loss, list(self.pot.parameters()))
        for p, g in zip(self.pot.parameters(), grads):
            p.grad = g
        self.pot_opt.step()

        x, y, tx, ty = self.batches()
        tx_x, sy = self.fwd(x), self.bwd(y)
        xt = (1 - tx[:, None]) * x + tx[:, None] * tx_x
        yt = (1 - ty[:, None]) * sy + ty[:, None] * y
        objective = (ALPHA * tx * ((x - tx_x) ** 2).sum(1) - self.pot(tx, xt)).mean() + \
                    (ALPHA * (1 - ty) * ((y - sy) ** 2).sum(1) + self.pot(ty, yt)).mean()
        grads = torch.autograd.grad(objective, self.map_params)
        for p, g in zip(self.map_params, grads):
            p.grad = g
        self.map_opt.step()
        if self.device == "cuda":
            torch.cuda.synchronize()


def main():
    args = parse_args(__doc__.split("\n")[0],
                      lambda parser: parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"]))
    steps = {}
    for dim in (2, 64):
        ms, n = median_ms(Step(dim, args.device), 3, 3 if args.quick else 10, 0.3 if args.quick else 2.0)
        steps[f"{args.device}/{dim}"] = {"median_ms": round(ms, 3), "timed_steps": n}
        print(f"{args.device} dim {dim:3d}: {ms:9.2f} ms ({n} steps)", flush=True)
    write_result(args.out, steps, args.threads, args.default_malloc)


if __name__ == "__main__":
    main()
