#!/usr/bin/env bash
# The otnet tool from the outside: bad input exits 2 with a message naming the flag; tiny real runs of
# toy, reuse, domain, color and generate (small n, small H_Φ, few steps) write config.json, results.json
# with the documented keys, results.md with the paper's numbers labelled, and their figures; a corrupt or
# missing image or data file exits 2. domain and the default color images need ../shared (skipped without
# it); generate runs on synthetic IDX files passed with --data. --resume of every subcommand reproduces the
# results, and a run stopped by SIGTERM in the middle of a solve (exit 143, checkpoint kept) and resumed ends
# exactly like an uninterrupted one.
#   check_cli.sh OTNET_BINARY SOURCE_DIR
set -uo pipefail
bin=$(realpath "$1")
src=$(realpath "$2")
shared=${BRENIER_SHARED:-$src/../shared}
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_checks.sh"

# has_keys FILE KEY...: each KEY (a literal string such as '"modes"') occurs in FILE.
has_keys() {
  local file=$1
  shift
  [ -s "$file" ] || { fail "$file was not written"; return; }
  for key in "$@"; do grep -q -- "$key" "$file" || fail "$file has no $key"; done
}

tiny=(--hidden 16,16 --quiet)

# --- bad input: exit code 2 and a message naming the flag --------------------------------------------
expect 0 'toy' --help
expect 0 'mode-min' toy --help
expect 2 'subcommand' --seed 3
expect 2 'dataset' toy --dataset moons --out "$tmp/x"
expect 2 'ratios: ratios must be in \(0, 1\]' toy --ratios 1,1.5 --out "$tmp/x"
expect 2 'ratios: ratio 0.9 is listed twice' toy --ratios 0.9,0.9 --out "$tmp/x"
expect 2 'ratios' toy --ratios 0.9,abc --out "$tmp/x"
expect 2 'ratio' toy --ratio 0.9 --ratios 0.8 --out "$tmp/x"
expect 2 'ratio' toy --ratio x --out "$tmp/x"
expect 2 '--targets: must be >= 50' toy --dataset grid --targets 10 --out "$tmp/x"
expect 2 '--hidden' toy --hidden 16,0 --out "$tmp/x"
expect 2 '--fourier-features: must be >= 0' toy --fourier-features -1 --out "$tmp/x"
expect 2 '--max-iter' reuse --max-iter -1 --out "$tmp/x"
expect 2 "--device: must be cpu, cuda or cuda:<index>, got 'tpu'" domain --device tpu --out "$tmp/x"
# Without a usable GPU --device cuda[:i] is refused before any work (a GPU machine runs it: tools/gpu-check).
if ! command -v nvidia-smi >/dev/null; then
  no_cuda='--device cuda(:1)?: (this brenier was built without CUDA|no CUDA device is usable here)'
  expect 2 "$no_cuda" toy --device cuda --out "$tmp/x"
  expect 2 "$no_cuda" reuse --device cuda:1 --out "$tmp/x"
  expect 2 "$no_cuda" color --device cuda --out "$tmp/x"
fi
expect 2 '--pixels' color --pixels 1 --out "$tmp/x"
expect 2 '--update' color --update adam --out "$tmp/x"
[ ! -e "$tmp/x" ] || fail "a rejected command created its --out folder"

# --- toy ------------------------------------------------------------------------------------------------
run="$tmp/toy"
expect 0 'results:' toy --dataset ring --ratios 1,0.8 --targets 64 --samples 400 --max-iter 30 "${tiny[@]}" --out "$run"
has_keys "$run/results.json" '"modes"' '"high_quality"' '"reverse_kl"' '"map_only"' '"experiment": "toy"' \
  '"status": "done"' '"method": "AE-OT (free heights)"' '"ratio": 0.8' '"all_targets_grad_norm"'
has_keys "$run/results.md" 'Paper: OT-Net' '98.72 ± 0.23' '99.60 ± 0.30' 'within 3σ'
for f in config.json figures/scatter_aeot.png figures/scatter_r1.00.png figures/scatter_r0.80.png; do
  [ -s "$run/$f" ] || fail "toy did not write $f"
done
# --resume of a finished run loads every solve and scores it again: the same numbers (timings aside).
# same_results A B [EXTRA_KEY...]: results.json of two runs agree on every key but wall times (keys ending in
# seconds / _ms, "resumed") and any EXTRA_KEY.
same_results() {
  python3 - "$@" <<'PY'
import json, sys
def strip(v, extra):
    if isinstance(v, dict):
        return {k: strip(x, extra) for k, x in v.items()
                if not (k.endswith("seconds") or k.endswith("_ms") or k == "resumed" or k in extra)}
    if isinstance(v, list):
        return [strip(x, extra) for x in v]
    return v
a, b = (strip(json.load(open(f + "/results.json")), sys.argv[3:]) for f in sys.argv[1:3])
if a != b:
    sys.exit(f"results differ:\n{json.dumps(a, sort_keys=True)}\n{json.dumps(b, sort_keys=True)}")
PY
}
cp -r "$run" "$tmp/toy-before"
expect 0 'results:' toy --dataset ring --ratios 1,0.8 --targets 64 --samples 400 --max-iter 30 "${tiny[@]}" \
  --out "$run" --resume
same_results "$tmp/toy-before" "$run" || fail "toy --resume of a finished run changed its results"
for f in aeot otnet_r1 otnet_r0.8; do
  [ -s "$run/checkpoints/$f.safetensors" ] || fail "toy did not write checkpoints/$f.safetensors"
done
expect 2 '--resume: the run in .* used seed 0, but this command asks for 1' toy --dataset ring --ratios 1,0.8 \
  --targets 64 --max-iter 30 "${tiny[@]}" --seed 1 --out "$run" --resume
expect 2 '--resume: the run in .* used ratios \[1.0,0.8\]' toy --dataset ring --ratios 0.8,1 --targets 64 \
  --max-iter 30 "${tiny[@]}" --out "$run" --resume
expect 2 '--resume: needs --out' toy --resume
expect 2 'holds no otnet run' toy --resume --out "$tmp/x"
expect 2 '--checkpoint-every: must be >= 1' toy --checkpoint-every -1 --out "$tmp/x"
# A run stopped by SIGTERM inside a solve saves it (exit 143) and --resume continues it to the same end.
long=(toy --dataset ring --ratios 0.8 --no-baseline --targets 64 --samples 400 --max-iter 150 --tolerance 1e-6
  --checkpoint-every 3 "${tiny[@]}")
expect 0 'results:' "${long[@]}" --out "$tmp/toy-straight"
stopped="$tmp/toy-stopped"
if expect_stopped "$stopped/checkpoints/otnet_r0.8.safetensors" \
  'stopped: ring OT-Net r=0.80: stopped at step [0-9]+ of 150, saved in .*otnet_r0.8.safetensors.*--resume' \
  "${long[@]}" --out "$stopped"; then
  [ ! -e "$stopped/results.json" ] || fail "a stopped toy run wrote results.json"
  expect 0 'results:' "${long[@]}" --out "$stopped" --resume
  same_results "$tmp/toy-straight" "$stopped" || fail "a toy run stopped mid-solve and resumed ends differently"
fi

# The top-level modes is an integer between 0 and 8.
modes=$(grep -m1 -E '^  "modes": ' "$run/results.json" | grep -oE '[0-9]+')
[ -n "$modes" ] && [ "$modes" -le 8 ] || fail "toy's top-level modes is not in 0..8: '$modes'"
expect 2 'already holds a run' toy --dataset ring --targets 64 --max-iter 2 "${tiny[@]}" --out "$run"
# H_Φ's input is recorded: Fourier features by default, raw y (Table A3) with --fourier-features 0.
has_keys "$run/config.json" '"fourier_features": 128'
has_keys "$run/results.json" '"input_features"'
run="$tmp/toy-raw"
expect 0 'results:' toy --dataset grid --ratios 0.9 --targets 50 --samples 200 --max-iter 5 --no-baseline \
  --fourier-features 0 "${tiny[@]}" --out "$run"
has_keys "$run/config.json" '"fourier_features": 0'

# --- reuse ----------------------------------------------------------------------------------------------
run="$tmp/reuse"
expect 0 'results:' reuse --dataset ring --ratios 0.75 --targets 48 --max-iter 30 "${tiny[@]}" --out "$run"
has_keys "$run/results.json" '"held_out_relative_error"' '"all_relative_error"' '"reference"' '"experiment": "reuse"' \
  '"relative_error": 0.001'
has_keys "$run/results.md" 'Paper (OT-Net' 'centred'
cp -r "$run" "$tmp/reuse-before"
expect 0 'results:' reuse --dataset ring --ratios 0.75 --targets 48 --max-iter 30 "${tiny[@]}" --out "$run" --resume
same_results "$tmp/reuse-before" "$run" || fail "reuse --resume of a finished run changed its results"
for f in reference otnet_r0.75 subset_r0.75; do
  [ -s "$run/checkpoints/$f.safetensors" ] || fail "reuse did not write checkpoints/$f.safetensors"
done

# --- color ----------------------------------------------------------------------------------------------
printf 'not an image at all' >"$tmp/bad.jpg"
head -c 400 "$src/../shared/data/images/china.jpg" >"$tmp/truncated.jpg" 2>/dev/null || printf '\xff\xd8\xff\xe0garbage' >"$tmp/truncated.jpg"
expect 2 'neither a JPEG nor a PNG' color --source "$tmp/bad.jpg" --target "$tmp/bad.jpg" --out "$tmp/x"
expect 2 'not a valid JPEG' color --source "$tmp/truncated.jpg" --target "$tmp/truncated.jpg" --out "$tmp/x"
expect 2 'does not exist' color --source "$tmp/missing.jpg" --target "$tmp/bad.jpg" --out "$tmp/x"
if [ -f "$shared/data/images/china.jpg" ]; then
  run="$tmp/color"
  expect 0 'results:' color --size 64 --pixels 40 --max-iter 10 "${tiny[@]}" --shared "$shared" --out "$run"
  has_keys "$run/results.json" '"seconds"' '"fit_seconds"' '"transform_seconds"' '"otnet_seconds": 1.102' \
    '"emd_transport_seconds": 1.21' '"pixels": 4096'
  has_keys "$run/results.md" 'paper: network simplex' '1.777' 'REFERENCE.md'
  has_keys "$run/results.json" '"warm_start"' '"free_height_steps"' '"output_layer_fit_rms"' '"otnet_loop_seconds"'
  has_keys "$run/results.json" '"input_features": 0'  # color's H_Φ reads raw y unless --fourier-features is given
  has_keys "$run/results.json" '"distinct_target_colors"'
  has_keys "$run/config.json" '"update": "output-layer"'
  # A δ the warm start cannot meet: Algorithm 1 takes its (output-layer) steps, and the run still finishes.
  run2="$tmp/color-steps"
  expect 0 'results:' color --size 64 --pixels 40 --max-iter 5 --tolerance 1e-4 "${tiny[@]}" --shared "$shared" \
    --out "$run2"
  has_keys "$run2/results.json" '"iterations": 5'
  [ -s "$run/figures/panel.png" ] || fail "color did not write figures/panel.png"
  # --resume of a finished color run: the solve and its timings from the checkpoint, the map computed again.
  cp -r "$run" "$tmp/color-before"
  expect 0 'results:' color --size 64 --pixels 40 --max-iter 10 "${tiny[@]}" --shared "$shared" --out "$run" --resume
  has_keys "$run/results.md" 'Resumed: the solve and its timings come from the checkpoint'
  same_results "$tmp/color-before" "$run" || fail "color --resume of a finished run changed its results"
  python3 - "$tmp/color-before" "$run" <<'PY' || fail "color --resume did not keep the first session's timings"
import json, sys
a, b = (json.load(open(f + "/results.json")) for f in sys.argv[1:])
assert a["fit_seconds"] == b["fit_seconds"] and a["warm_start"] == b["warm_start"] and b["resumed"] and not a["resumed"]
PY
else
  echo "shared images not found: color run skipped"
fi

# --- domain ---------------------------------------------------------------------------------------------
if [ -f "$shared/data/domain2d/source_x.npy" ]; then
  run="$tmp/domain"
  expect 0 'results:' domain --ratios 0.9 --max-iter 5 "${tiny[@]}" --shared "$shared" --out "$run"
  has_keys "$run/results.json" '"accuracy"' '"accuracy_part"' '"fit_transform_seconds"' '"emd_exact"' \
    '"otnet": 84.45'
  # The 1-NN on the raw source must reproduce the reference's no-adaptation accuracy exactly.
  grep -q '"no_adaptation_accuracy": 42.55' "$run/results.json" || fail "domain's no-adaptation 1-NN is not 42.55%"
  has_keys "$run/results.md" '80.42' '84.18 / 84.25'
  [ -s "$run/figures/domain_map.png" ] || fail "domain did not write its figure"
  cp -r "$run" "$tmp/domain-before"
  expect 0 'results:' domain --ratios 0.9 --max-iter 5 "${tiny[@]}" --shared "$shared" --out "$run" --resume
  same_results "$tmp/domain-before" "$run" || fail "domain --resume of a finished run changed its results"
else
  echo "shared domain2d data not found: domain run skipped"
fi

# --- generate -------------------------------------------------------------------------------------------
source "$(dirname "${BASH_SOURCE[0]}")/../support/synthetic_fashion_mnist.sh"
data="$tmp/fmnist"
synthetic_fashion_mnist "$data" 300 100
gen=(generate --quick --quiet --data "$data" --classifier "$tmp/fid_classifier.safetensors")

expect 0 'ae-epochs' generate --help
expect 2 'apt-get install dataset-fashion-mnist' generate --data "$tmp/no-such-dir" --out "$tmp/x"
expect 2 '--train-images: must be >= 16' "${gen[@]}" --train-images 4 --out "$tmp/x"
expect 2 '--targets: must be in \[4, --train-images = 256\]' "${gen[@]}" --targets 1000 --out "$tmp/x"
expect 2 '--latent' "${gen[@]}" --latent 0 --out "$tmp/x"
expect 2 '--ae-lr' "${gen[@]}" --ae-lr -1 --out "$tmp/x"
expect 2 '--angle' "${gen[@]}" --angle 0 --out "$tmp/x"
expect 2 '--resume: needs --out' "${gen[@]}" --resume
command -v nvidia-smi >/dev/null || expect 2 "$no_cuda" "${gen[@]}" --device cuda --out "$tmp/x"
expect 2 'ae-epochs' "${gen[@]}" --ae-epochs x --out "$tmp/x"
expect 0 'Table 4 uses 1,0.95' generate --help
# Bad --ratios: each value must be a number in (0, 1], listed once; the message names the flag.
expect 2 '--ratios: ratios must be in \(0, 1\], got 0' "${gen[@]}" --ratios 1,0 --out "$tmp/x"
expect 2 '--ratios: ratios must be in \(0, 1\], got 1.5' "${gen[@]}" --ratios 1.5 --out "$tmp/x"
expect 2 '--ratios: ratios must be in \(0, 1\], got nan' "${gen[@]}" --ratios nan --out "$tmp/x"
expect 2 "--ratios: '' is not a number" "${gen[@]}" --ratios '' --out "$tmp/x"
expect 2 "--ratios: '' is not a number" "${gen[@]}" --ratios 1,,0.8 --out "$tmp/x"
expect 2 '--ratios: ratio 0.8 is listed twice' "${gen[@]}" --ratios 0.8,0.8 --out "$tmp/x"
# Damaged data files: each error names the file.
bad="$tmp/fmnist-bad"
mkdir -p "$bad"
cp "$data"/* "$bad/"
head -c 5000 "$data/train-images-idx3-ubyte.gz" >"$bad/train-images-idx3-ubyte.gz"
expect 2 'train-images-idx3-ubyte.gz' generate --quick --data "$bad" --out "$tmp/x"
printf 'not an idx file' >"$bad/t10k-labels-idx1-ubyte"
cp "$data/train-images-idx3-ubyte.gz" "$bad/"
expect 2 'bad magic number.*t10k-labels|t10k-labels.*bad magic number' generate --quick --data "$bad" --out "$tmp/x"
idx_labels "$bad/t10k-labels-idx1-ubyte" 99
expect 2 'count mismatch' generate --quick --data "$bad" --out "$tmp/x"
[ ! -e "$tmp/x" ] || fail "a rejected generate command created its --out folder"

run="$tmp/generate"
expect 0 'results:' "${gen[@]}" --ratios 1,0.8 --out "$run"
has_keys "$run/results.json" '"experiment": "generate"' '"status": "done"' '"fid"' '"otnet_generated"' '"otnet_map"' \
  '"aeot_generated"' '"reconstruction"' '"test_accuracy"' '"aeot": 134.83' '"otnet_seconds": 37.22' '"fid_note"'
has_keys "$run/results.md" 'not Inception FID' 'Table 4' '10.98' '9.85'
for f in config.json figures/samples_otnet.png figures/samples_aeot.png figures/reconstructions.png \
  checkpoints/autoencoder.safetensors checkpoints/height_network.safetensors checkpoints/free_heights.safetensors; do
  [ -s "$run/$f" ] || fail "generate did not write $f"
done
[ -s "$tmp/fid_classifier.safetensors" ] || fail "generate did not cache its FID classifier"
# --ratios: one entry per ratio (H_Φ trained on 52 of the 64 codes at r = 0.8, all 64 heights predicted), with
# its solve, fresh |dE| over all n, prediction time, FIDs, error against the free heights, and the paper's time.
has_keys "$run/results.json" '"ratios": {' '"0.8": {' '"train_targets": 52' '"held_out_targets": 12' \
  '"fresh_grad_norm"' '"predict_heights_ms"' '"predict_held_out_ms"' '"fid_generated"' '"fid_map"' \
  '"relative_error_vs_free_heights"' '"held_out"' '"otnet_generated_r0.8"' '"otnet_map_r0.8"' '"paper_seconds": 19.61'
has_keys "$run/results.md" 'per training ratio r' 'paper s (Table 4)' '| 0.80 ' '52 / 12' 'the paper'"'"'s numbers'
for f in figures/samples_otnet_r0.8.png figures/samples_map_r0.8.png checkpoints/height_network_r0.8.safetensors; do
  [ -s "$run/$f" ] || fail "generate --ratios 1,0.8 did not write $f"
done
python3 - "$run/results.json" <<'PY' || fail "generate --ratios: results.json's per-ratio entries are not as expected"
import json, math, sys
r = json.load(open(sys.argv[1]))
one, part = r["ratios"]["1"], r["ratios"]["0.8"]
assert one["held_out_targets"] == 0 and one["relative_error_vs_free_heights"]["held_out"] is None
err = part["relative_error_vs_free_heights"]
assert all(math.isfinite(err[k]) and err[k] >= 0 for k in ("all", "train", "held_out")), err
assert math.isfinite(part["fresh_grad_norm"]) and part["fresh_grad_norm"] > 0
assert r["ot"]["otnet_ratio"] == 1 and r["ot"]["otnet"]["iterations"] == one["steps"]
assert r["fid"]["otnet_generated"] == one["fid_generated"]
PY
# --resume: every stage comes from its checkpoint (the classifier from its cache), so the FIDs agree exactly.
grep -A12 '"fid": {' "$run/results.json" >"$tmp/fid_before"
expect 0 'results:' "${gen[@]}" --ratios 1,0.8 --out "$run" --resume
grep -A12 '"fid": {' "$run/results.json" >"$tmp/fid_after"
cmp -s "$tmp/fid_before" "$tmp/fid_after" || fail "generate --resume changed the FIDs: $(diff "$tmp/fid_before" "$tmp/fid_after")"
grep -q '"cached": true' "$run/results.json" || fail "generate --resume retrained the cached FID classifier"
# --resume with one more ratio: the finished r = 0.8 solve is reloaded (same steps and solve time), r = 0.9 solved.
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ratios"]["0.8"]["solve"])' "$run/results.json" \
  >"$tmp/solve_before"
expect 0 'results:' "${gen[@]}" --ratios 1,0.8,0.9 --out "$run" --resume
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ratios"]["0.8"]["solve"])' "$run/results.json" \
  >"$tmp/solve_after"
cmp -s "$tmp/solve_before" "$tmp/solve_after" || fail "generate --resume re-solved the finished r = 0.8 solve"
has_keys "$run/results.json" '"0.9": {' '"paper_seconds": 26.62'
expect 2 'already holds a run' "${gen[@]}" --out "$run"
expect 2 '--resume: the run in .* used latent' "${gen[@]}" --out "$run" --resume --latent 6
run="$tmp/generate-nobase"
expect 0 'results:' "${gen[@]}" --no-baseline --ae-epochs 1 --ratios 0.9 --out "$run"
grep -q '"aeot_generated"' "$run/results.json" && fail "generate --no-baseline still scored AE-OT samples"
# Without r = 1 the top-level "ot" block is the first ratio's; without free heights there is no height error.
has_keys "$run/results.json" '"otnet_ratio": 0.9' '"relative_error_vs_free_heights": null'
[ -s "$run/figures/samples_otnet_r0.9.png" ] || fail "generate --ratios 0.9 did not write samples_otnet_r0.9.png"
[ ! -e "$run/figures/samples_aeot.png" ] || fail "generate --no-baseline wrote samples_aeot.png"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all otnet CLI checks passed"
