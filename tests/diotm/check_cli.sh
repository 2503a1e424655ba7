#!/usr/bin/env bash
# The diotm tool from the outside: bad input exits 2 with a message naming the flag; a tiny gaussian run
# writes config.json, results.json (per dimension l2uvp_fwd and l2uvp_inv), results.md with the documented
# choices, metrics.jsonl and a checkpoint; --resume re-scores a finished run to the same numbers, and a run
# resumed from a mid-run checkpoint scores exactly like an uninterrupted one; tiny toy and lambda runs write
# their W2 keys and figures; translate runs on synthetic Fashion-MNIST files, writes its FIDs, grid and
# classifier, and re-scores identically on --resume.
#   check_cli.sh DIOTM_BINARY
set -uo pipefail
bin=$(realpath "$1")
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_checks.sh"

tiny=(--iters 4 --batch 32 --quiet)

# --- bad input: exit code 2 and a message naming the flag ---------------------------------------------
expect 0 'gaussian' --help
expect 0 'time sampling' gaussian --help
expect 0 'moon-spiral' toy --help
expect 2 'subcommand' --iters 5
expect 2 "--device: must be cpu, cuda or cuda:<index>, got 'tpu'" gaussian --device tpu "${tiny[@]}" --out "$tmp/x"
if ! command -v nvidia-smi >/dev/null; then  # a GPU machine runs --device cuda for real
  expect 2 '--device cuda: (this brenier was built without CUDA|no CUDA device is usable here)' \
    gaussian --device cuda "${tiny[@]}" --out "$tmp/x"
fi
expect 2 'listed twice' gaussian --dims 2,2 "${tiny[@]}" --out "$tmp/x"
expect 2 'dims' gaussian --dims 2,x "${tiny[@]}" --out "$tmp/x"
expect 2 '--iters: must be >= 1, got 0' gaussian --dims 2 --iters 0 --out "$tmp/x"
expect 2 'iters' gaussian --dims 2 --iters abc --out "$tmp/x"
expect 2 '--batch: must be >= 1' gaussian --dims 2 --iters 2 --batch 0 --out "$tmp/x"
expect 2 'regularizer' gaussian --dims 2 --regularizer r2 "${tiny[@]}" --out "$tmp/x"
expect 2 'hjb-norm' gaussian --dims 2 --hjb-norm l1 "${tiny[@]}" --out "$tmp/x"
expect 2 '--lambda: must be finite and >= 0' gaussian --dims 2 --lambda -1 "${tiny[@]}" --out "$tmp/x"
expect 2 '--alpha: must be finite and > 0' gaussian --dims 2 --alpha 0 "${tiny[@]}" --out "$tmp/x"
expect 2 '--kv: must be >= 1' gaussian --dims 2 --kv 0 "${tiny[@]}" --out "$tmp/x"
expect 2 '--dataset: must be one of' toy --dataset swiss "${tiny[@]}" --out "$tmp/x"
expect 2 "--variants: 'hjb' is listed twice" toy --dataset 8g --variants hjb,hjb "${tiny[@]}" --out "$tmp/x"
expect 2 '--eval-samples: must be in' toy --dataset 8g --eval-samples 1 "${tiny[@]}" --out "$tmp/x"
expect 2 "--lambdas: 'x' is not a number" lambda --lambdas 0,x "${tiny[@]}" --out "$tmp/x"
expect 2 '--lambdas: weights must be finite and >= 0' lambda --lambdas -1 "${tiny[@]}" --out "$tmp/x"
expect 2 '--regularizer: lambda needs hjb or r1' lambda --regularizer none "${tiny[@]}" --out "$tmp/x"
expect 2 '--resume: needs --out' gaussian --dims 2 "${tiny[@]}" --resume
mkdir -p "$tmp/empty"
expect 2 'holds no diotm run' gaussian --dims 2 "${tiny[@]}" --resume --out "$tmp/empty"
[ ! -e "$tmp/x" ] || fail "a rejected command created its --out folder"

# The per-dim scores of results.json (python-free: grep the indented keys).
scores() {
  sed -n '/^  "results"/,$p' "$1/results.json" | grep -E '^      "(l2uvp_fwd|l2uvp_inv|w2_fwd|w2_inv)"'
}

# --- a tiny real gaussian run ---------------------------------------------------------------------------
run="$tmp/run"
expect 0 'dim 2: L2-UVP fwd' gaussian --dims 2 "${tiny[@]}" --seed 3 --out "$run"
for f in config.json results.json results.md metrics.jsonl checkpoints/dim2.safetensors; do
  [ -s "$run/$f" ] || fail "the gaussian run did not write $f"
done
for key in '"l2uvp_fwd"' '"l2uvp_inv"' '"l2uvp_identity"' '"status": "done"' '"experiment": "gaussian"' '"iters": 4'; do
  grep -q -- "$key" "$run/results.json" || fail "results.json has no $key"
done
for text in 'time sampling' 'λ = 0.1' 'abs residual' 'α = 0.5' 'Bures'; do
  grep -q -- "$text" "$run/results.md" || fail "results.md does not document '$text'"
done
first=$(scores "$run")
[ "$(grep -cE ': -?[0-9.eE+-]+,?$' <<<"$first")" = 2 ] || fail "results.json's scores are not 2 numbers:"$'\n'"$first"
expect 2 'already holds a run' gaussian --dims 2 "${tiny[@]}" --seed 3 --out "$run"
expect 2 'used seed 3' gaussian --dims 2 "${tiny[@]}" --seed 4 --out "$run" --resume
expect 0 'dim 2' gaussian --dims 2 "${tiny[@]}" --seed 3 --out "$run" --resume
[ "$(scores "$run")" = "$first" ] || fail "--resume re-scored as"$'\n'"$(scores "$run")"$'\n'"the first run as"$'\n'"$first"

# Resuming from the step-3 checkpoint trains exactly the networks of an uninterrupted 6-step run.
expect 0 '' gaussian --dims 2 --iters 6 --batch 32 --quiet --checkpoint-every 3 --out "$tmp/straight"
expect 0 '' gaussian --dims 2 --iters 3 --batch 32 --quiet --checkpoint-every 3 --out "$tmp/split"
expect 0 '' gaussian --dims 2 --iters 6 --batch 32 --quiet --checkpoint-every 3 --out "$tmp/split" --resume
grep -q '"resumed": true' "$tmp/split/results.json" || fail "the resumed run does not say it resumed"
[ "$(scores "$tmp/straight")" = "$(scores "$tmp/split")" ] ||
  fail "a run resumed at step 3 scored"$'\n'"$(scores "$tmp/split")"$'\n'"an uninterrupted one"$'\n'"$(scores "$tmp/straight")"

# A diverging run (absurd learning rates) exits 3, names the step and records it.
expect 3 'training diverged at step' gaussian --dims 2 "${tiny[@]}" --lr-map 1e12 --lr-potential 1e12 --out "$tmp/div"
grep -q '"diverged": true' "$tmp/div/results.json" || fail "the diverged run's results.json does not say so"
grep -q 'dim 2 diverged' "$tmp/div/results.md" || fail "the diverged run's results.md does not say so"

# --- gaussian --problem w2bench: the W2 benchmark's pairs (data from BRENIER_SHARED, else ../shared) ----------
src=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../..")
shared=${BRENIER_SHARED:-$src/../shared}
w2=(gaussian --problem w2bench "${tiny[@]}")
expect 0 'Mix3toMix10' gaussian --help
expect 2 '--problem' gaussian --problem sphere --dims 2 "${tiny[@]}" --out "$tmp/x"
expect 2 "--shared: data folder '$tmp/no-such-dir' does not exist" "${w2[@]}" --dims 2 --shared "$tmp/no-such-dir" \
  --out "$tmp/x"
mkdir -p "$tmp/empty-shared"
expect 2 "'$tmp/empty-shared/data/w2bench/manifest.json' not found" "${w2[@]}" --dims 2 --shared "$tmp/empty-shared" \
  --out "$tmp/x"
expect 2 '--shared: only --problem w2bench' gaussian --dims 2 "${tiny[@]}" --shared "$tmp/empty-shared" --out "$tmp/x"
if [ -f "$shared/data/w2bench/manifest.json" ]; then
  expect 2 'shipped dims 2, 4, 8, 16, 32, 64.*got 3' "${w2[@]}" --dims 2,3 --shared "$shared" --out "$tmp/x"
  [ ! -e "$tmp/x" ] || fail "a rejected w2bench command created its --out folder"
  expect 0 'w2bench dim 2: L2-UVP fwd' "${w2[@]}" --dims 2 --shared "$shared" --out "$tmp/w2"
  for key in '"experiment": "w2bench"' '"problem": "w2bench"' '"l2uvp_fwd"' '"cos_fwd"' '"l2uvp_inv"' '"baselines"' \
    '"linear"' '"w2_squared"' '"status": "done"'; do
    grep -q -- "$key" "$tmp/w2/results.json" || fail "w2bench results.json has no $key"
  done
  [ -s "$tmp/w2/checkpoints/w2bench-dim2.safetensors" ] || fail "the w2bench run did not write its checkpoint"
  grep -q 'forward direction' "$tmp/w2/results.md" || fail "w2bench results.md does not say which direction is asked"
  # Against the shared README's reference numbers at dim 2 (identity L2-UVP 32.5, linear 13.9, W2² = 2·0.327),
  # to 4096-sample error; after 4 steps from the identity the map still scores like the identity.
  python3 - "$tmp/w2/results.json" <<'EOF' || fail "w2bench dim-2 scores disagree with the benchmark's reference"
import json, sys
r = json.load(open(sys.argv[1]))["results"]["2"]
checks = {
    "identity": (r["baselines"]["identity"]["l2uvp_fwd"], 31.0, 34.0),
    "linear": (r["baselines"]["linear"]["l2uvp_fwd"], 13.0, 15.0),
    "w2_squared": (r["w2_squared"], 0.62, 0.69),
    "4-step map vs identity": (r["l2uvp_fwd"] / r["baselines"]["identity"]["l2uvp_fwd"], 0.95, 1.05),
}
bad = [f"{k} = {v} not in [{lo}, {hi}]" for k, (v, lo, hi) in checks.items() if not lo <= v <= hi]
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
  expect 2 "is a 'gaussian' run, not 'w2bench'" "${w2[@]}" --dims 2 --shared "$shared" --out "$run" --resume
else
  echo "shared data folder '$shared' has no data/w2bench (set BRENIER_SHARED): the w2bench-pair run is skipped"
fi

# --- tiny toy and lambda runs ---------------------------------------------------------------------------
expect 0 '8g-hjb: W2 fwd' toy --dataset 8g --variants hjb,none "${tiny[@]}" --eval-samples 40 --out "$tmp/toy"
for key in '"w2_fwd"' '"w2_inv"' '"identity_w2"' '"floor_w2"' '"hjb_at_or_below_none"' '"status": "done"'; do
  grep -q -- "$key" "$tmp/toy/results.json" || fail "toy results.json has no $key"
done
for f in figures/8g-hjb.png figures/8g-none.png checkpoints/8g-hjb.safetensors; do
  [ -s "$tmp/toy/$f" ] || fail "the toy run did not write $f"
done
grep -q 'floor' "$tmp/toy/results.md" || fail "toy results.md does not explain the floor"
expect 0 'moon-spiral-hjb-lambda1: W2 fwd' lambda --dataset moon-spiral --lambdas 0,1 "${tiny[@]}" --eval-samples 40 \
  --out "$tmp/lambda"
grep -q '"hjb-lambda0"' "$tmp/lambda/results.json" || fail "lambda results.json has no hjb-lambda0 entry"
[ -s "$tmp/lambda/figures/moon-spiral-hjb-lambda1.png" ] || fail "the lambda run did not write its figure"

# --- translate on synthetic Fashion-MNIST files ---------------------------------------------------------
source "$(dirname "${BASH_SOURCE[0]}")/../support/synthetic_fashion_mnist.sh"
synthetic_fashion_mnist "$tmp/fmnist" 300 100
small=(--iters 3 --batch 4 --classifier-epochs 1 --quiet --data "$tmp/fmnist" --classifier "$tmp/fid.safetensors")
tr=(translate "${small[@]}" --channels 2 --classifier-images 300)
expect 0 'classifier-feature FID' translate --help
expect 2 'apt-get install dataset-fashion-mnist' translate --data "$tmp/no-such-dir" --out "$tmp/x"
expect 2 "--from: unknown Fashion-MNIST class 'boots'.*9 \(Ankle boot\)" "${tr[@]}" --from boots --out "$tmp/x"
expect 2 "--to: a class index must be 0..9, got '12'" "${tr[@]}" --to 12 --out "$tmp/x"
expect 2 '--from/--to: the two classes must differ' "${tr[@]}" --from 7 --to sneaker --out "$tmp/x"
expect 2 '--channels: must be >= 1' translate "${small[@]}" --channels 0 --out "$tmp/x"
expect 2 '--classifier-images: must be >= 256' translate "${small[@]}" --classifier-images 10 --out "$tmp/x"
[ ! -e "$tmp/x" ] || fail "a rejected translate command created its --out folder"
expect 0 'Sneaker → Ankle boot' "${tr[@]}" --from sneaker --to "ankle boot" --out "$tmp/tr"
for key in '"experiment": "translate"' '"fid"' '"fid_identity"' '"fid_floor"' '"target_class_rate"' \
  '"classifier_test_accuracy"' '"forward"' '"backward"'; do
  grep -q -- "$key" "$tmp/tr/results.json" || fail "translate results.json has no $key"
done
for f in figures/translate.png checkpoints/7to9.safetensors results.md; do
  [ -s "$tmp/tr/$f" ] || fail "the translate run did not write $f"
done
[ -s "$tmp/fid.safetensors" ] || fail "translate did not cache its FID classifier"
grep -q 'NOT Inception FID' "$tmp/tr/results.md" || fail "translate results.md does not say its FID is not Inception's"
grep -q 'ConvUNetMap\|x + UNet' "$tmp/tr/results.md" || fail "translate results.md does not describe the conv networks"
# A finished run resumed is re-scored to the same numbers (the cached classifier is reused).
cp "$tmp/tr/results.json" "$tmp/tr_before.json"
expect 0 'Sneaker → Ankle boot' "${tr[@]}" --from sneaker --to "ankle boot" --out "$tmp/tr" --resume
grep '"fid' "$tmp/tr_before.json" >"$tmp/fid_before"
grep '"fid' "$tmp/tr/results.json" >"$tmp/fid_after"
cmp -s "$tmp/fid_before" "$tmp/fid_after" || fail "translate --resume changed the FIDs: $(diff "$tmp/fid_before" "$tmp/fid_after")"
grep -q '"cached": true' "$tmp/tr/results.json" || fail "translate --resume retrained the cached FID classifier"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all diotm CLI checks passed"
