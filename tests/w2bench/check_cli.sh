#!/usr/bin/env bash
# The w2bench tool from the outside, as a user runs it: every kind of bad input exits with code 2 and
# a message naming the problem; a tiny real run writes config.json, results.json, results.md,
# metrics.jsonl, a figure and a checkpoint; --resume re-scores a finished dim to the same numbers;
# `push` applies the saved map to .npy points (f64 and f32 agree, fwd then inv comes back near x)
# and rejects a wrong dimension or a broken file; `aggregate` summarizes repeats and refuses mixed settings.
#   check_cli.sh W2BENCH_BINARY SOURCE_DIR
# Exits 77 (meson's "skipped") when the shared data folder is absent.
set -uo pipefail
bin=$(realpath "$1")
src=$(realpath "$2")
shared=${BRENIER_SHARED:-$src/../shared}
if [ ! -f "$shared/data/w2bench/manifest.json" ]; then
  echo "shared data folder '$shared' not found (set BRENIER_SHARED); skipped"
  exit 77
fi
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_checks.sh"

# --- bad input: exit code 2 and a message --------------------------------------------------------
expect 0 'push' --help
expect 2 'solver' --solver sinkhorn --dims 2 --iters 5 --out "$tmp/x" --shared "$shared"
expect 2 'no dimension 3.*available dimensions: 2,4,8,16,32,64,128' --dims 2,3 --iters 5 --out "$tmp/x" --shared "$shared"
expect 2 'no dimension 256.*available' --dims 256 --iters 5 --out "$tmp/x" --shared "$shared"
expect 2 'listed twice' --dims 2,2 --iters 5 --out "$tmp/x" --shared "$shared"
expect 2 'dims' --dims 2,x --iters 5 --out "$tmp/x" --shared "$shared"
expect 2 "data folder '$tmp/no-such-folder' does not exist" --dims 2 --iters 5 --out "$tmp/x" --shared "$tmp/no-such-folder"
mkdir -p "$tmp/empty-shared"
expect 2 'manifest.json' --dims 2 --iters 5 --out "$tmp/x" --shared "$tmp/empty-shared"
expect 2 'iters' --dims 2 --iters abc --out "$tmp/x" --shared "$shared"
expect 2 '--iters: must be >= 1, got 0' --dims 2 --iters 0 --out "$tmp/x" --shared "$shared"
expect 2 'batch' --dims 2 --iters 5 --batch 1 --out "$tmp/x" --shared "$shared"
expect 2 '--resume: needs --out' --dims 2 --iters 5 --resume --shared "$shared"
expect 2 'strong-convexity' --dims 2 --iters 5 --strong-convexity -1 --out "$tmp/x" --shared "$shared"
expect 2 'lr-schedule' --dims 2 --iters 5 --lr-schedule linear --out "$tmp/x" --shared "$shared"
expect 2 "holds no w2bench run" --dims 2 --iters 5 --resume --out "$tmp/empty-shared" --shared "$shared"
expect 2 "--device: must be cpu, cuda or cuda:<index>, got 'tpu'" --dims 2 --iters 5 --device tpu --out "$tmp/x" --shared "$shared"
if ! command -v nvidia-smi >/dev/null; then  # a GPU machine runs --device cuda for real (tools/gpu-check)
  expect 2 '--device cuda: (this brenier was built without CUDA|no CUDA device is usable here)' \
    --dims 2 --iters 5 --device cuda --out "$tmp/x" --shared "$shared"
fi
expect 2 "--run folder '$tmp/no-such-run' does not exist" push --run "$tmp/no-such-run" --dim 2 --direction fwd \
  --input "$tmp/in.npy" --output "$tmp/out.npy"
expect 2 'direction' push --run "$tmp" --dim 2 --direction sideways --input "$tmp/in.npy" --output "$tmp/out.npy"
expect 2 'required' push --run "$tmp" --dim 2 --direction fwd
[ ! -e "$tmp/x" ] || fail "a rejected command created its --out folder"

# The per-dim scores: keys indented 6 deep after "results" (baselines and the paper's numbers sit deeper).
scores() { sed -n '/^  "results"/,$p' "$1/results.json" | grep -E '^      "(l2uvp_fwd|l2uvp_inv|cos_fwd|cos_inv|iters)"'; }

# --- a tiny real run ---------------------------------------------------------------------------------
run="$tmp/run"
expect 0 'paper MM-B fwd' --dims 2 --iters 30 --batch 256 --seed 3 --out "$run" --shared "$shared" --quiet
for f in config.json results.json results.md metrics.jsonl checkpoints/dim2.safetensors figures/dim2.png; do
  [ -s "$run/$f" ] || fail "the run did not write $f"
done
[ "$(head -c 8 "$run/figures/dim2.png" | od -A n -t x1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
  fail "figures/dim2.png is not a PNG"
for key in '"l2uvp_fwd"' '"l2uvp_inv"' '"cos_fwd"' '"cos_inv"' '"seconds"' '"iters": 30' '"baselines"' '"linear"' \
  '"config"' '"paper_mmb"' '"status": "done"'; do
  grep -q -- "$key" "$run/results.json" || fail "results.json has no $key"
done
grep -q 'paper MM-B fwd (mean ± std)' "$run/results.md" || fail "results.md does not label the paper's columns"
grep -q '0.54 ± 0.06' "$run/results.md" || fail "results.md lacks the paper's dim-2 MM-B forward L2-UVP"
grep -q '"step":30' "$run/metrics.jsonl" || fail "metrics.jsonl has no record for step 30"
grep -q '"monitor_l2uvp_fwd"' "$run/metrics.jsonl" || fail "metrics.jsonl checkpoint records carry no monitoring scores"
# The scores must be numbers, not null (NaN) or missing.
first=$(scores "$run")
[ "$(grep -cE ': [0-9.eE+-]+,?$' <<<"$first")" = 5 ] || fail "results.json's dim-2 scores are not 5 numbers:"$'\n'"$first"

# Not over an existing run without --resume; --resume re-scores the finished dim to the same numbers.
expect 2 'already holds a w2bench run' --dims 2 --iters 30 --batch 256 --seed 3 --out "$run" --shared "$shared"
expect 2 'used --seed 3' --dims 2 --iters 30 --batch 256 --seed 4 --out "$run" --shared "$shared" --resume
expect 0 'done \(resumed\)' --dims 2 --iters 30 --batch 256 --seed 3 --out "$run" --shared "$shared" --quiet --resume
[ "$(scores "$run")" = "$first" ] || fail "--resume re-scored dim 2 as"$'\n'"$(scores "$run")"$'\n'"the first run as"$'\n'"$first"

# Resuming mid-run (from the step-500 checkpoint) trains exactly the networks of an uninterrupted run.
expect 0 '' --dims 2 --iters 1000 --batch 256 --no-pretrain --out "$tmp/straight" --shared "$shared" --quiet
expect 0 '' --dims 2 --iters 500 --batch 256 --no-pretrain --out "$tmp/split" --shared "$shared" --quiet
expect 0 'resuming from .*dim2.safetensors \(step 500\)' --dims 2 --iters 1000 --batch 256 --no-pretrain \
  --out "$tmp/split" --shared "$shared" --resume
[ "$(scores "$tmp/straight" | wc -l)" = 5 ] || fail "results.json of the uninterrupted run lacks the scores"
[ "$(scores "$tmp/straight")" = "$(scores "$tmp/split")" ] ||
  fail "a run resumed at step 500 scored"$'\n'"$(scores "$tmp/split")"$'\n'"an uninterrupted one"$'\n'"$(scores "$tmp/straight")"

# --- aggregate: mean ± std over repeats; two identical runs give std 0 and their common mean -----------------
fwd_straight=$(scores "$tmp/straight" | grep l2uvp_fwd | grep -oE '[0-9.eE+-]+,?$' | tr -d ,)
expect 0 "runs of solver mmb" aggregate "$tmp/straight" "$tmp/split" --out "$tmp/agg"
[ -s "$tmp/agg/aggregate.json" ] && [ -s "$tmp/agg/aggregate.md" ] || fail "aggregate did not write its files"
grep -q '± 0.00 ' "$tmp/agg/aggregate.md" || fail "aggregate of two identical runs does not show std 0"
grep -q "$(printf '%.2f' "$fwd_straight") ± 0.00" "$tmp/agg/aggregate.md" ||
  fail "aggregate's mean is not the runs' common forward L2-UVP $fwd_straight"
expect 2 'different experiment' aggregate "$tmp/straight" "$run"
expect 2 "holds no results.json" aggregate "$tmp/no-such-run"

# --- push ----------------------------------------------------------------------------------------------
# npy FILE DESCR ROWS COLS BYTES: a NumPy 1.0 file whose header is padded to 128 bytes.
npy() {
  local dict="{'descr': '$2', 'fortran_order': False, 'shape': ($3, $4), }"
  { printf '\x93NUMPY\x01\x00\x76\x00'; printf '%-117s\n' "$dict"; printf "$5"; } >"$1"
}
# Points (0, 0), (1, 0.5), (-1, 1) as f64 and as f32.
npy "$tmp/x64.npy" '<f8' 3 2 \
  '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\xf0\x3f\0\0\0\0\0\0\xe0\x3f\0\0\0\0\0\0\xf0\xbf\0\0\0\0\0\0\xf0\x3f'
npy "$tmp/x32.npy" '<f4' 3 2 '\0\0\0\0\0\0\0\0\0\0\x80\x3f\0\0\0\x3f\0\0\x80\xbf\0\0\x80\x3f'
npy "$tmp/x3d.npy" '<f8' 1 3 '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0'
[ "$(stat -c %s "$tmp/x64.npy")" = 176 ] || fail "the test's own f64 .npy has the wrong size"

# values FILE: the numbers of a float .npy written by w2bench, one per line (header length from bytes 8-9).
values() {
  local header type
  header=$(od -A n -t u2 -j 8 -N 2 "$1" | tr -d ' ')
  type=$(grep -q "<f4" "$1" && echo f4 || echo f8)
  od -A n -v -t "$type" -j $((10 + header)) "$1" | tr -s ' ' '\n' | grep -v '^$'
}
# close A B TOL: the two files hold the same count of numbers and each pair differs by at most TOL.
close() {
  paste <(values "$1") <(values "$2") | awk -v tol="$3" '
    NF != 2 || $1 != $1 + 0 || $2 != $2 + 0 { bad = 1 }
    { d = $1 - $2; if (d < 0) d = -d; if (d > max) max = d; n++ }
    END { if (bad || n == 0 || max > tol) { print "max difference " max " over " n " numbers"; exit 1 } }'
}

expect 0 '' push --run "$run" --dim 2 --direction fwd --input "$tmp/x64.npy" --output "$tmp/y64.npy"
expect 0 '' push --run "$run" --dim 2 --direction fwd --input "$tmp/x32.npy" --output "$tmp/y32.npy"
expect 0 '' push --run "$run" --dim 2 --direction inv --input "$tmp/y64.npy" --output "$tmp/back.npy"
for f in y64 y32 back; do [ -s "$tmp/$f.npy" ] || fail "push did not write $f.npy"; done
grep -q "'shape': (3, 2)" "$tmp/y64.npy" || fail "push's output is not [3, 2]"
grep -q "<f8" "$tmp/y64.npy" || fail "push turned f64 input into another dtype"
grep -q "<f4" "$tmp/y32.npy" || fail "push turned f32 input into another dtype"
[ "$(values "$tmp/y64.npy" | wc -l)" = 6 ] || fail "push's output does not hold 6 numbers"
close "$tmp/y64.npy" "$tmp/y32.npy" 1e-5 || fail "push gives different maps for the same points in f64 and f32"
# The map moved the points (T* is far from the identity on this pair).
! close "$tmp/x64.npy" "$tmp/y64.npy" 1e-3 >/dev/null || fail "push fwd returned its input unchanged"
# ∇ψ̄ ≈ (∇ψ)⁻¹ after pre-training both to the identity and 30 joint steps: a loose round trip.
close "$tmp/x64.npy" "$tmp/back.npy" 0.3 || fail "push inv does not bring push fwd's points back near x"

expect 2 'must hold f32 or f64 points of shape \[n, 2\]' push --run "$run" --dim 2 --direction fwd \
  --input "$tmp/x3d.npy" --output "$tmp/bad.npy"
echo "not a numpy file" >"$tmp/text.npy"
expect 2 'not a readable .npy' push --run "$run" --dim 2 --direction fwd --input "$tmp/text.npy" --output "$tmp/bad.npy"
expect 2 'not a readable .npy' push --run "$run" --dim 2 --direction fwd --input "$tmp/missing.npy" --output "$tmp/bad.npy"
expect 2 'checkpoints in this run: dim2' push --run "$run" --dim 4 --direction fwd --input "$tmp/x64.npy" \
  --output "$tmp/bad.npy"
[ ! -e "$tmp/bad.npy" ] || fail "a rejected push wrote its --output"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all w2bench CLI checks passed"
