#!/usr/bin/env bash
# The hotet tool from the outside: bad input exits 2 with a message naming the problem; a tiny
# gm-predict run writes config.json, results.json (per dimension a `train` and a `test` object with
# l2uvp_fwd, l2uvp_inv, cos_fwd, cos_inv), results.md with the paper's numbers, metrics.jsonl and a
# checkpoint; --resume re-scores a finished run to the same numbers, and a run resumed from a mid-run
# checkpoint scores exactly like an uninterrupted one; a tiny w2b run (skipped without the shared data);
# runtime's bad flags and a tiny timing run (the paper's Table V beside ours, the machine, --resume keeping
# timed rows); color's bad flags (a missing or corrupt image exits 2 naming its path) and a tiny run on
# shrunken photographs (skipped without the shared data) that writes panels and W2 scores.
#   check_cli.sh HOTET_BINARY SOURCE_DIR
set -uo pipefail
bin=$(realpath "$1")
src=$(realpath "$2")
shared=${BRENIER_SHARED:-$src/../shared}
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_checks.sh"

# A tiny model and data set: one transformer block, 32-point batches, few sources and samples.
tiny=(--dim 2 --batch 32 --train-sources 10 --test-sources 3 --eval-train-sources 2 --eval-samples 64
  --embed-layers 1 --quiet)

# --- bad input: exit code 2 and a message ------------------------------------------------------------
expect 0 'gm-predict' --help
expect 0 'no-embedding' gm-predict --help
expect 2 'subcommand' --iters 5
expect 2 'method' gm-predict --method sinkhorn "${tiny[@]}" --iters 5 --out "$tmp/x"
expect 2 "--device: must be cpu, cuda or cuda:<index>, got 'tpu'" gm-predict --device tpu "${tiny[@]}" --iters 5 --out "$tmp/x"
if ! command -v nvidia-smi >/dev/null; then  # a GPU machine runs --device cuda for real (tools/gpu-check)
  expect 2 '--device cuda: (this brenier was built without CUDA|no CUDA device is usable here)' gm-predict --device cuda "${tiny[@]}" --iters 5 --out "$tmp/x"
fi
expect 2 'listed twice' gm-predict --dims 2,2 --iters 5 --out "$tmp/x"
expect 2 'dims' gm-predict --dims 2,x --iters 5 --out "$tmp/x"
expect 2 '--iters: must be >= 1, got 0' gm-predict "${tiny[@]}" --iters 0 --out "$tmp/x"
expect 2 'iters' gm-predict "${tiny[@]}" --iters abc --out "$tmp/x"
expect 2 '--per-step: must be in \[1, --train-sources = 10\], got 20' gm-predict "${tiny[@]}" --per-step 20 --out "$tmp/x"
expect 2 '--batch: must be >= 2' gm-predict --dim 2 --batch 1 --iters 5 --out "$tmp/x"
expect 2 '--embed-heads: 3 does not divide' gm-predict "${tiny[@]}" --embed-heads 3 --out "$tmp/x"
expect 2 '--lr: must be a positive number, got 0' gm-predict "${tiny[@]}" --lr 0 --out "$tmp/x"
expect 2 '--lr: must be a positive number, got -0.001' w2b --dims 2 --lr -1e-3 --out "$tmp/x"
expect 2 '--resume: needs --out' gm-predict "${tiny[@]}" --resume
mkdir -p "$tmp/empty"
expect 2 'holds no hotet run' gm-predict "${tiny[@]}" --resume --out "$tmp/empty"
[ ! -e "$tmp/x" ] || fail "a rejected command created its --out folder"

# The per-dim scores of results.json as "train.l2uvp_fwd=..." lines (python-free: grep the indented keys).
scores() {
  sed -n '/^  "results"/,$p' "$1/results.json" | grep -E '^        "(l2uvp_fwd|l2uvp_inv|cos_fwd|cos_inv)"'
}

# --- a tiny real gm-predict run ---------------------------------------------------------------------
run="$tmp/run"
expect 0 'unseen-test L2-UVP fwd' gm-predict "${tiny[@]}" --iters 8 --seed 3 --out "$run"
for f in config.json results.json results.md metrics.jsonl checkpoints/dim2.safetensors; do
  [ -s "$run/$f" ] || fail "the run did not write $f"
done
for key in '"train"' '"test"' '"l2uvp_fwd"' '"l2uvp_inv"' '"cos_fwd"' '"cos_inv"' '"floor"' '"identity"' \
  '"transport_cost"' '"gelbrich_bound"' '"spread_fwd"' '"status": "done"' '"experiment": "gm-predict"' '"hotet_mmv2_l2uvp_fwd": 3.25' '"iters": 8'; do
  grep -q -- "$key" "$run/results.json" || fail "results.json has no $key"
done
grep -q 'paper HOTET-MMv2 fwd / inv' "$run/results.md" || fail "results.md does not label the paper's columns"
grep -q '3.25 / 3.01' "$run/results.md" || fail "results.md lacks the paper's dim-2 Table III numbers"
grep -q 'own samples' "$run/results.md" || fail "results.md does not say how test sources are embedded"
grep -q 'not an OT map' "$run/results.md" || fail "results.md does not explain the ground truth's transport cost"
first=$(scores "$run")
# train and test: 4 numbers each.
[ "$(grep -cE ': -?[0-9.eE+-]+,?$' <<<"$first")" = 8 ] || fail "results.json's scores are not 8 numbers:"$'\n'"$first"

expect 2 'already holds a run' gm-predict "${tiny[@]}" --iters 8 --seed 3 --out "$run"
expect 2 'used seed 3' gm-predict "${tiny[@]}" --iters 8 --seed 4 --out "$run" --resume
expect 2 'used convex false' gm-predict "${tiny[@]}" --iters 8 --seed 3 --convex --out "$run" --resume
expect 2 'used targets "paired"' gm-predict "${tiny[@]}" --iters 8 --seed 3 --targets independent --out "$run" --resume
expect 0 'unseen-test' gm-predict "${tiny[@]}" --iters 8 --seed 3 --out "$run" --resume
[ "$(scores "$run")" = "$first" ] || fail "--resume re-scored as"$'\n'"$(scores "$run")"$'\n'"the first run as"$'\n'"$first"

# Resuming from the step-5 checkpoint trains exactly the networks of an uninterrupted 10-step run.
expect 0 '' gm-predict "${tiny[@]}" --iters 10 --checkpoint-every 5 --out "$tmp/straight"
expect 0 '' gm-predict "${tiny[@]}" --iters 5 --checkpoint-every 5 --out "$tmp/split"
expect 0 '' gm-predict "${tiny[@]}" --iters 10 --checkpoint-every 5 --out "$tmp/split" --resume
grep -q '"resumed": true' "$tmp/split/results.json" || fail "the resumed run does not say it resumed"
[ "$(scores "$tmp/straight")" = "$(scores "$tmp/split")" ] ||
  fail "a run resumed at step 5 scored"$'\n'"$(scores "$tmp/split")"$'\n'"an uninterrupted one"$'\n'"$(scores "$tmp/straight")"

# --pooling: the reference's order (after the hypernet's hidden layers) runs and is a --resume key; a run
# written before the option existed (no "pooling" in config.json) resumes as "before".
expect 2 "--pooling: must be before or after-hidden, got 'max'" gm-predict "${tiny[@]}" --iters 3 --pooling max --out "$tmp/x"
expect 2 '--pooling: after-hidden pools per-point features, so it needs --context transformer or points' \
  gm-predict "${tiny[@]}" --iters 3 --pooling after-hidden --no-embedding --out "$tmp/x"
expect 0 'unseen-test' gm-predict "${tiny[@]}" --iters 3 --pooling after-hidden --out "$tmp/after"
grep -q '"pooling": "after-hidden"' "$tmp/after/config.json" || fail "config.json does not record --pooling"
expect 2 'used pooling "after-hidden"' gm-predict "${tiny[@]}" --iters 3 --out "$tmp/after" --resume
python3 - "$run/config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
del config["options"]["pooling"]
json.dump(config, open(path, "w"))
PY
expect 0 'unseen-test' gm-predict "${tiny[@]}" --iters 8 --seed 3 --out "$run" --resume
[ "$(scores "$run")" = "$first" ] || fail "a pre-pooling run resumed and re-scored as"$'\n'"$(scores "$run")"

# The ablation runs and says so.
expect 0 '' gm-predict "${tiny[@]}" --iters 3 --no-embedding --out "$tmp/noemb"
grep -q 'without embedding' "$tmp/noemb/results.md" || fail "results.md of --no-embedding does not say so"
expect 0 '' gm-predict "${tiny[@]}" --iters 3 --context points --pooling after-hidden --out "$tmp/points"
grep -q 'emb_method mlp' "$tmp/points/results.md" || fail "results.md of --context points does not say so"
# --targets: independent target batches train, are named in results.md; a bad value is refused.
expect 2 "--targets: bogus not in" gm-predict "${tiny[@]}" --iters 3 --targets bogus --out "$tmp/x"
expect 0 '' gm-predict "${tiny[@]}" --iters 3 --targets independent --out "$tmp/independent"
grep -q 'drawn from ν independently' "$tmp/independent/results.md" || fail "results.md of --targets independent does not say so"
grep -q 'paired with their sources' "$run/results.md" || fail "results.md does not say the targets are paired"
# Paired targets (y = T*(x), the reference) make MM-B's batch matching the pairing itself in high dimension:
# its gradient is exactly 0 (docs/hotet.md); independent targets give it one.
grads() { grep -o '"grad_norm":[^,]*' "$1/metrics.jsonl" | cut -d: -f2 | tr '\n' ' '; }
hi=(--dim 64 --batch 64 --train-sources 4 --per-step 2 --test-sources 1 --eval-train-sources 1 --eval-samples 64
  --context points --iters 2 --checkpoint-every 1 --quiet)
expect 0 '' gm-predict "${hi[@]}" --out "$tmp/paired64"
expect 0 '' gm-predict "${hi[@]}" --targets independent --out "$tmp/independent64"
[ "$(grads "$tmp/paired64")" = "0.0 0.0 " ] || fail "paired targets at D = 64: MM-B's gradient norms are $(grads "$tmp/paired64"), expected 0"
grep -q '"grad_norm":0.0,' "$tmp/independent64/metrics.jsonl" && fail "independent targets at D = 64 left MM-B without a gradient"
expect 2 '--context: mlp not in' gm-predict "${tiny[@]}" --iters 3 --context mlp --out "$tmp/x"
expect 2 'needs >= 64, got 32' gm-predict "${tiny[@]}" --iters 3 --context meta-ot --out "$tmp/x"
abl=(--dim 2 --batch 64 --train-sources 6 --test-sources 2 --eval-train-sources 2 --eval-samples 64
  --embed-layers 1 --per-step 2 --quiet)
expect 0 'ablation results in' ablation "${abl[@]}" --iters 3 --out "$tmp/abl"
for context in transformer constant meta-ot points; do
  [ -s "$tmp/abl/$context/results.json" ] || fail "ablation did not run the $context context"
  grep -q "| $context " "$tmp/abl/results.md" || fail "ablation's results.md has no $context row"
done
grep -q 'MetaOT 2.66' "$tmp/abl/results.md" || fail "ablation's results.md lacks the paper's MetaOT figure"
expect 2 'already holds an ablation run' ablation "${abl[@]}" --iters 3 --out "$tmp/abl"
expect 0 'ablation results in' ablation "${abl[@]}" --iters 3 --out "$tmp/abl" --resume

# --- w2b --------------------------------------------------------------------------------------------
if [ -f "$shared/data/w2bench/manifest.json" ]; then
  expect 2 'no dimension 3' w2b --dims 3 --iters 2 --out "$tmp/w" --shared "$shared"
  expect 0 'L2-UVP fwd' w2b --dims 2 --iters 3 --batch 64 --embed-layers 1 --quiet --out "$tmp/w2b" --shared "$shared"
  for key in '"l2uvp_fwd"' '"l2uvp_inv"' '"cos_fwd"' '"cos_inv"' '"mmb_l2uvp_fwd": 5.03' '"status": "done"'; do
    grep -q -- "$key" "$tmp/w2b/results.json" || fail "w2b results.json has no $key"
  done
  grep -q '5.03 ± 0.33' "$tmp/w2b/results.md" || fail "w2b results.md lacks the paper's dim-2 HOTET number"
else
  echo "shared data folder '$shared' not found: w2b checks skipped"
fi

# --- runtime ----------------------------------------------------------------------------------------
rt_base=(--dim 2 --pairs 10 --embed-layers 1 --predict-repeats 1 --no-pretrain --quiet)
rt=("${rt_base[@]}" --pairs-measured 1 --batch 64)
expect 0 'pairs-measured' runtime --help
if ! command -v nvidia-smi >/dev/null; then
  expect 2 '--device cuda: (this brenier was built without CUDA|no CUDA device is usable here)' runtime "${rt[@]}" --device cuda --steps 2 --out "$tmp/x"
fi
expect 2 '--steps: must be >= 1, got 0' runtime "${rt[@]}" --steps 0 --out "$tmp/x"
expect 2 '--pairs-measured: must be in \[1, --pairs = 10\], got 11' runtime "${rt_base[@]}" --pairs-measured 11 --out "$tmp/x"
expect 2 "--trainers: 'sinkhorn' is not one of" runtime "${rt[@]}" --trainers mmb,sinkhorn --out "$tmp/x"
expect 2 "--trainers: 'mmb' is listed twice" runtime "${rt[@]}" --trainers mmb,mmb --out "$tmp/x"
expect 2 'needs >= 64, got 32' runtime "${rt_base[@]}" --batch 32 --trainers meta-ot --out "$tmp/x"
expect 2 '--resume: needs --out' runtime "${rt[@]}" --resume
[ ! -e "$tmp/x" ] || fail "a rejected runtime command created its --out folder"
expect 0 'hotet-mmb: .* projected for 10 maps \(paper: 1228\)' runtime "${rt[@]}" --steps 2 --mmv2-steps 1 --out "$tmp/rt"
for key in '"hotet-mmb"' '"meta-ot"' '"hotet-mmv2"' '"mmb"' '"mmv2"' '"seconds_per_step"' '"projected_seconds"' \
  '"new_map_seconds"' '"paper_seconds": 1228' '"paper_seconds": 409284' '"nproc"' '"loadavg"' '"status": "done"'; do
  grep -q -- "$key" "$tmp/rt/results.json" || fail "runtime results.json has no $key"
done
grep -q 'paper Table V (D = 2), not ours' "$tmp/rt/results.md" || fail "runtime results.md does not label the paper's column"
grep -q '(projected)' "$tmp/rt/results.md" || fail "runtime results.md does not mark projected rows"
grep -q '\*\*Machine\*\*: [0-9]* cores' "$tmp/rt/results.md" || fail "runtime results.md does not name the machine"
timed() { grep -E '"(train_seconds|new_map_seconds)"' "$1/results.json"; }
before=$(timed "$tmp/rt")
expect 2 'used seed 0' runtime "${rt[@]}" --steps 2 --mmv2-steps 1 --seed 1 --out "$tmp/rt" --resume
expect 0 'runtime results in' runtime "${rt[@]}" --steps 2 --mmv2-steps 1 --out "$tmp/rt" --resume
[ "$(timed "$tmp/rt")" = "$before" ] || fail "runtime --resume re-timed rows an earlier run had timed"

# --- color ------------------------------------------------------------------------------------------
col_base=(--max-side 24 --steps 3 --batch 32 --eval-points 32 --embed-layers 1 --quiet)
col=("${col_base[@]}" --finetune-steps 2)
printf 'not an image at all' >"$tmp/junk.png"
expect 0 'finetune-steps' color --help
expect 2 "image: '$tmp/missing.jpg' does not exist" color "${col[@]}" --images "$tmp/missing.jpg" --reference "$tmp/junk.png" --out "$tmp/x"
expect 2 "image: '$tmp/junk.png' is neither a JPEG nor a PNG" color "${col[@]}" --images "$tmp/junk.png" --reference "$tmp/junk.png" --out "$tmp/x"
if ! command -v nvidia-smi >/dev/null; then
  expect 2 '--device cuda: (this brenier was built without CUDA|no CUDA device is usable here)' color "${col[@]}" --device cuda --out "$tmp/x"
fi
expect 2 '--finetune-steps: must be >= 1, got 0' color "${col_base[@]}" --finetune-steps 0 --out "$tmp/x"
expect 2 '--images: empty item' color "${col[@]}" --images "a.jpg,,b.jpg" --out "$tmp/x"
[ ! -e "$tmp/x" ] || fail "a rejected color command created its --out folder"
if [ -f "$shared/data/images/china.jpg" ]; then
  # A truncated JPEG is corrupt: exit 2 naming it.
  head -c 3000 "$shared/data/images/china.jpg" >"$tmp/truncated.jpg"
  expect 2 "image: '$tmp/truncated.jpg' is not a valid JPEG" color "${col[@]}" --shared "$shared" --reference "$tmp/truncated.jpg" --out "$tmp/x"
  [ ! -e "$tmp/x" ] || fail "a rejected color command created its --out folder"
  col_scores() { grep -E '"w2_(identity|mapped|floor)"' "$1/results.json"; }
  expect 0 'one-to-one W2: identity' color "${col[@]}" --shared "$shared" --out "$tmp/color"
  for f in one_to_one.png one_to_one_inverse.png; do
    [ -s "$tmp/color/figures/$f" ] || fail "color did not write figures/$f"
  done
  [ "$(ls "$tmp/color/figures" | grep -c '^many_to_one_')" -ge 4 ] || fail "color wrote fewer than 4 many-to-one panels"
  [ "$(ls "$tmp/color/figures" | grep -c '^in_context_')" = 3 ] || fail "color did not write 3 in-context panels"
  for key in '"one_to_one"' '"many_to_one"' '"in_context"' '"zero_shot"' '"fine_tuned"' '"w2_identity"' '"w2_mapped"' \
    '"w2_floor"' '"train_seconds"' '"status": "done"'; do
    grep -q -- "$key" "$tmp/color/results.json" || fail "color results.json has no $key"
  done
  grep -q 'quadrant crop' "$tmp/color/results.md" || fail "color results.md does not say crops were added as sources"
  first=$(col_scores "$tmp/color")
  expect 0 'one-to-one W2' color "${col[@]}" --shared "$shared" --out "$tmp/color" --resume
  [ "$(col_scores "$tmp/color")" = "$first" ] || fail "color --resume re-scored a finished run differently"
  # Images the user passes (a PNG among them) replace the shipped ones.
  expect 0 'one-to-one W2' color "${col[@]}" --images "$tmp/color/figures/one_to_one.png,$shared/data/images/flower.jpg" \
    --reference "$shared/data/images/china.jpg" --min-sources 3 --out "$tmp/color2"
  grep -q '"reference": "china.jpg"' "$tmp/color2/results.json" || fail "color ignored --reference"
else
  echo "shared data folder '$shared' not found: color runs skipped"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all hotet CLI checks passed"
