#!/usr/bin/env python3
"""Ratio table of brenier's CUDA step times to PyTorch eager measured on the same card in the same call.

tools/gpu-check (`run tools`) runs it after the step benches and ../shared/bench/ref/workloads.py --device cuda:
    gpu_ratios.py TORCH_JSON LOG_DIR
TORCH_JSON is workloads.py's output; LOG_DIR holds bench_gpu.log (P1, P2), bench_hotet.log (P3) and
bench_otnet.log (P4). Prints a Markdown table; a workload missing on either side is left out.
"""
import json
import re
import sys
from pathlib import Path


def torch_times(path):
    """{(workload, dim): eager median ms} from workloads.py's JSON."""
    names = {"mmb_step": "P1", "mmv2_inner_step": "P2", "hotet_step": "P3", "otnet_step": "P4"}
    out = {}
    for r in json.loads(Path(path).read_text())["results"]:
        if r["name"] in names and r.get("eager"):
            out[(names[r["name"]], r["params"].get("dim"))] = r["eager"]["median_ms"]
    return out


def brenier_times(logs):
    """{(workload, dim): CUDA median ms} from the bench logs' Markdown rows."""
    out = {}
    text = lambda name: (logs / name).read_text() if (logs / name).exists() else ""
    for m in re.finditer(r"^\| (P[12]) \S+ dim (\d+) \| [\d.]+ \| ([\d.]+) \|", text("bench_gpu.log"), re.M):
        out[(m[1], int(m[2]))] = float(m[3])
    for m in re.finditer(r"^\| P3 HOTET step, dim (\d+)\s*\| cuda\S*\s*\|\s*([\d.]+) ms", text("bench_hotet.log"), re.M):
        out[("P3", int(m[1]))] = float(m[2])
    for m in re.finditer(r"^\| P4 whole step[^|]*\| cuda\S*\s*\|\s*([\d.]+)", text("bench_otnet.log"), re.M):
        out[("P4", 100)] = float(m[1])
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    torch, ours = torch_times(sys.argv[1]), brenier_times(Path(sys.argv[2]))
    print("| workload | dim | brenier CUDA ms | PyTorch eager ms (same card) | speedup |")
    print("|---|--:|--:|--:|--:|")
    for key in sorted(set(torch) & set(ours)):
        print(f"| {key[0]} | {key[1]} | {ours[key]:.3f} | {torch[key]:.3f} | {torch[key] / ours[key]:.2f}x |")


if __name__ == "__main__":
    main()
