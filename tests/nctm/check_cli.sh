#!/usr/bin/env bash
# The nctm tool from the outside: bad flags exit 2 with a message naming the flag (--device cuda on every
# subcommand without a usable GPU); a tiny gaussian run writes config.json, results.json (seen / unseen /
# beyond with l2uvp, the device), results.md, metrics.jsonl and a checkpoint; --resume of a finished run
# re-scores it to the same numbers; a run stopped by SIGTERM (exit 143) or resumed from a mid-run checkpoint
# scores exactly like an uninterrupted one; a tiny ablation run writes its table; tiny toy2d and sensitivity
# runs write their keys, figures and the paper's ρ beside ours; the cost flags (--cost strong|weak,
# --noise-dim, --gamma, ...) are validated and land in results.json; a tiny two-seed ablation writes mean ± std
# per variant.
#   check_cli.sh NCTM_BINARY
set -uo pipefail
bin=$(realpath "$1")
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_checks.sh"

tiny=(--dim 2 --pretrain-steps 3 --warmup-steps 2 --batch 16 --width 8 --classes 2 --eval-samples 32 --quiet)

# --- bad input: exit code 2 and a message naming the flag --------------------------------------------
expect 0 'conditioning' gaussian --help
expect 2 'subcommand' --iters 5
expect 2 'conditioning' gaussian --conditioning adain "${tiny[@]}" --iters 2 --out "$tmp/x"
expect 2 'encoding' gaussian --encoding sinus "${tiny[@]}" --iters 2 --out "$tmp/x"
expect 2 "--device: must be cpu, cuda or cuda:<index>, got 'tpu'" gaussian --device tpu "${tiny[@]}" --iters 2 --out "$tmp/x"
# Without a usable GPU every subcommand refuses --device cuda[:i] before any work (a GPU machine runs it for real).
if ! command -v nvidia-smi >/dev/null; then
  no_cuda='--device cuda(:1)?: (this brenier was built without CUDA|no CUDA device is usable here)'
  expect 2 "$no_cuda" gaussian --device cuda "${tiny[@]}" --iters 2 --out "$tmp/x"
  expect 2 "$no_cuda" gaussian --device cuda:1 "${tiny[@]}" --iters 2 --out "$tmp/x"
  expect 2 "$no_cuda" ablation --device cuda "${tiny[@]}" --iters 2 --out "$tmp/x"
  expect 2 "$no_cuda" toy2d --device cuda "${tiny[@]:2}" --iters 2 --out "$tmp/x"
  expect 2 "$no_cuda" sensitivity --device cuda --iters 2 --out "$tmp/x"
fi
expect 2 '--dims: dimension 2 is listed twice' gaussian --dims 2,2 --iters 2 --out "$tmp/x"
expect 2 '--dims: dimensions must be >= 2, got 1' gaussian --dims 1 --iters 2 --out "$tmp/x"
expect 2 '--dims' gaussian --dims 2,x --iters 2 --out "$tmp/x"
expect 2 '--iters: must be >= 1, got 0' gaussian "${tiny[@]}" --iters 0 --out "$tmp/x"
expect 2 'iters' gaussian "${tiny[@]}" --iters abc --out "$tmp/x"
expect 2 '--map-lr: must be > 0' gaussian "${tiny[@]}" --map-lr 0 --out "$tmp/x"
expect 2 '--position-scale: must be finite and > 0' gaussian "${tiny[@]}" --position-scale 0 --iters 2 --out "$tmp/x"
expect 0 'position-scale FLOAT=8 ' gaussian --help
expect 2 '--batch: must be >= 1' gaussian --dim 2 --batch 0 --iters 2 --out "$tmp/x"
expect 2 '--resume: needs --out' gaussian "${tiny[@]}" --resume
expect 2 "--cost: must be strong or weak, got 'medium'" gaussian "${tiny[@]}" --cost medium --iters 2 --out "$tmp/x"
expect 2 '--gamma: the strong cost has no' gaussian "${tiny[@]}" --gamma 0.5 --iters 2 --out "$tmp/x"
expect 2 '--gamma: must be finite and >= 0, got -1' toy2d "${tiny[@]:2}" --cost weak --gamma -1 --iters 2 --out "$tmp/x"
expect 2 '--noise-dim: the weak cost needs noise' toy2d "${tiny[@]:2}" --cost weak --noise-dim 0 --iters 2 --out "$tmp/x"
expect 2 '--noise-samples: the weak cost needs >= 2' ablation "${tiny[@]}" --cost weak --noise-samples 1 --iters 2 --out "$tmp/x"
expect 2 '--noise-std: must be finite and > 0' sensitivity --noise-std 0 --iters 2 --out "$tmp/x"
expect 2 '--seeds: seed 1 is listed twice' ablation "${tiny[@]}" --seeds 1,1 --iters 2 --out "$tmp/x"
expect 2 '--seeds' ablation "${tiny[@]}" --seeds 1,x --iters 2 --out "$tmp/x"
expect 2 '--dims: the ablation runs at one dimension' ablation --dims 2,4 --iters 2 --out "$tmp/x"
mkdir -p "$tmp/empty"
expect 2 'holds no nctm run' gaussian "${tiny[@]}" --resume --out "$tmp/empty"
expect 0 'datasets' toy2d --help
expect 2 '--datasets: each must be swiss-roll or 8g, got .moons.' toy2d "${tiny[@]:2}" --datasets moons --iters 2 --out "$tmp/x"
expect 2 '--datasets: .8g. is listed twice' toy2d "${tiny[@]:2}" --datasets 8g,8g --iters 2 --out "$tmp/x"
expect 2 '--datasets: empty item' toy2d "${tiny[@]:2}" --datasets 8g, --iters 2 --out "$tmp/x"
expect 2 '--eval-samples: exact W2' toy2d "${tiny[@]:2:8}" --eval-samples 5000 --iters 2 --out "$tmp/x"
expect 2 'dims' toy2d --dims 2 --iters 2 --out "$tmp/x"
expect 2 '--classes: must be >= 1' toy2d "${tiny[@]:2:6}" --classes 0 --iters 2 --out "$tmp/x"
expect 2 'encoding' toy2d "${tiny[@]:2}" --encoding sinus --iters 2 --out "$tmp/x"
expect 0 'encodings' sensitivity --help
expect 2 '--encodings: each must be positional, scalar or fourier, got .sinus.' sensitivity --encodings sinus --iters 2 --out "$tmp/x"
expect 2 '--encodings: .scalar. is listed twice' sensitivity --encodings scalar,scalar --iters 2 --out "$tmp/x"
expect 2 '--grid: must be >= 2' sensitivity --grid 1 --iters 2 --out "$tmp/x"
expect 2 '--samples: must be >= 2' sensitivity --samples 0 --iters 2 --out "$tmp/x"
expect 2 'classes' sensitivity --classes 2 --iters 2 --out "$tmp/x"
[ ! -e "$tmp/x" ] || fail "a rejected command created its --out folder"

scores() { grep -E '"l2uvp"' "$1/results.json"; }

# --- a tiny real gaussian run ------------------------------------------------------------------------
run="$tmp/run"
expect 0 'dim 2: L2-UVP seen' gaussian "${tiny[@]}" --iters 4 --seed 3 --out "$run"
for f in config.json results.json results.md metrics.jsonl checkpoints/dim2.safetensors; do
  [ -s "$run/$f" ] || fail "the run did not write $f"
done
require_keys "$run/results.json" "results.json" '"seen"' '"unseen"' '"beyond"' '"l2uvp"' '"identity_l2uvp"' '"status": "done"' '"experiment": "gaussian"' \
  '"unseen_over_seen"' '"iters": 4' '"position_scale": 8.0' '"device": "cpu"' '"cost": "strong"' '"noise_dim": 0' \
  '"gamma": 0.0'
grep -q 'not public here' "$run/results.md" || fail "results.md does not say the paper's data are not public"
first=$(scores "$run")
expect 2 'already holds a run' gaussian "${tiny[@]}" --iters 4 --seed 3 --out "$run"
expect 2 'used seed 3' gaussian "${tiny[@]}" --iters 4 --seed 4 --out "$run" --resume
expect 0 're-scoring|L2-UVP' gaussian "${tiny[@]}" --iters 4 --seed 3 --out "$run" --resume
[ "$(scores "$run")" = "$first" ] || fail "re-scoring a finished run changed its numbers"

# A run stopped at its mid-run checkpoint (step 6 of 9) and resumed scores exactly like the uninterrupted one.
full="$tmp/full" part="$tmp/part"
expect 0 'L2-UVP' gaussian "${tiny[@]}" --iters 4 --seed 5 --checkpoint-every 6 --out "$full"
expect 0 'L2-UVP' gaussian "${tiny[@]}" --iters 4 --seed 5 --checkpoint-every 6 --out "$part"
# Roll the second run back to its step-6 checkpoint: train again from scratch with iters 1 (total 6) into a
# scratch folder and copy that checkpoint over.
mid="$tmp/mid"
expect 0 'L2-UVP' gaussian "${tiny[@]}" --iters 1 --seed 5 --checkpoint-every 6 --out "$mid"
cp "$mid/checkpoints/dim2.safetensors" "$part/checkpoints/dim2.safetensors"
expect 0 'L2-UVP' gaussian "${tiny[@]}" --iters 4 --seed 5 --checkpoint-every 6 --out "$part" --resume
[ "$(scores "$part")" = "$(scores "$full")" ] || fail "a resumed run scores differently from an uninterrupted one"

# A run stopped by SIGTERM (it saves the step it is at, exit 143) and resumed scores like an uninterrupted one.
long=(gaussian "${tiny[@]}" --iters 150 --seed 5 --checkpoint-every 2)
expect 0 'L2-UVP' "${long[@]}" --out "$tmp/straight"
stopped="$tmp/stopped"
if expect_stopped "$stopped/checkpoints/dim2.safetensors" \
  "stopped: .*stopped at step [0-9]+ of 155, saved in .*dim2.safetensors.; continue with --resume" \
  "${long[@]}" --out "$stopped"; then
  expect 0 'L2-UVP' "${long[@]}" --out "$stopped" --resume
  [ "$(scores "$stopped")" = "$(scores "$tmp/straight")" ] || fail "a run stopped by SIGTERM and resumed scores differently"
fi

# --- a tiny ablation run -----------------------------------------------------------------------------
abl="$tmp/abl"
expect 0 'reference' ablation "${tiny[@]}" --iters 2 --out "$abl"
for v in reference concat film scalar fourier no-pretrain shared; do
  grep -q "\"label\": \"$v\"" "$abl/results.json" || fail "ablation results.json lacks variant $v"
  grep -q "| $v " "$abl/results.md" || fail "ablation results.md lacks variant $v"
done
# Two seeds (weak cost, its defaults: z dim 2, γ 1): every variant per seed, mean ± std and the spread verdict.
abl2="$tmp/abl2"
expect 0 'shared +seed 1 seen' ablation --dim 2 --pretrain-steps 1 --warmup-steps 1 --iters 1 --batch 16 --width 8 \
  --classes 2 --eval-samples 32 --quiet --seeds 0,1 \
  --cost weak --out "$abl2"
require_keys "$abl2/results.json" "two-seed ablation results.json" '"seeds": \[' '"summary"' '"gap_beyond_spread"' '"std"' '"min"' '"max"' '"label": "fourier-seed1"' \
  '"cost": "weak"' '"noise_dim": 2' '"gamma": 1.0'
grep -Eq '\| concat +\| .* ± ' "$abl2/results.md" || fail "two-seed ablation results.md has no mean ± std row"
grep -q 'seed-to-seed spread' "$abl2/results.md" || fail "two-seed ablation results.md does not explain the spread"
expect 2 'used seeds \[0,1\]' ablation --dim 2 --pretrain-steps 1 --warmup-steps 1 --iters 1 --batch 16 --width 8 \
  --classes 2 --eval-samples 32 --quiet --seeds 0,2 --cost weak --out "$abl2" --resume

# --- tiny toy2d and sensitivity runs ----------------------------------------------------------------
toy="$tmp/toy"
expect 0 'swiss-roll-conditional: W2' toy2d "${tiny[@]:2}" --iters 2 --datasets swiss-roll --cost weak --gamma 0.5 \
  --noise-dim 3 --out "$toy"
for f in config.json results.json results.md metrics.jsonl checkpoints/swiss-roll-unconditional.safetensors \
  checkpoints/swiss-roll-conditional.safetensors figures/swiss-roll-unconditional.png \
  figures/swiss-roll-conditional-k1-s0.5.png; do
  [ -s "$toy/$f" ] || fail "toy2d did not write $f"
done
require_keys "$toy/results.json" "toy2d results.json" '"w2"' '"identity_w2"' '"floor_w2"' '"figure"' '"status": "done"' '"experiment": "toy2d"' '"cost": "weak"' \
  '"gamma": 0.5' '"noise_dim": 3' '"noise_samples": 4'
[ "$(ls "$toy/figures" | wc -l)" -eq 7 ] || fail "toy2d wrote $(ls "$toy/figures" | wc -l) figures, expected 1 + 2 classes x 3 s"
sens="$tmp/sens"
expect 0 'NCTM scalar: indices' sensitivity "${tiny[@]:2:4}" --eval-samples 32 --quiet --iters 2 --batch 16 --width 8 --grid 4 \
  --samples 256 --out "$sens"
require_keys "$sens/results.json" "sensitivity results.json" '"exact"' '"quadrature"' '"maps"' '"rho"' '"rho_per_input"' '"index"' '"rho_positional": 0.942' \
  '"rho_scalar": 0.305' '"status": "done"' '"experiment": "sensitivity"'
grep -q 'not public here' "$sens/results.md" || fail "sensitivity results.md does not say the paper's data are not public"
grep -q "the paper's numbers" "$sens/results.md" || fail "sensitivity results.md does not label the paper's rho"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "nctm-cli: all checks passed"
