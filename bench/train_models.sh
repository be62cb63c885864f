#!/bin/bash
# The recipe behind the bundled models (docs/results.md): for each seed, the two single-branch
# experts on the default preset, then the two fusions of them: the mean of their calibrated
# probabilities (audiofuse combine) and the paper's learned head on top of them (experts
# frozen); last, the mean with a heart-cycle feature expert added (audiofuse add-feature-expert;
# the bundled default since 2026-12-03: runs/default-sS.keras, its mean recalibrated once more).
# The spectrogram ViT trains for up to 24 epochs, patience 6 (12 and 4 until 2026-12-03, 18:00
# UTC: docs/results.md, "A longer budget for the spectrogram ViT"; bench/vit_budget.sh made the
# bundled seed's).
# Resumable: rerun the same command after an interruption; finished models are kept.
#   bench/train_models.sh [DATA] [SEED...]     (default: ../shared/data/physionet2016-dev 42 43 44)
# Models and logs go to runs/ (not in git); about 60-70 min per seed on a 2-core CPU.
set -u
cd "$(dirname "$0")/.."
data=${1:-../shared/data/physionet2016-dev}
shift || true
seeds=${*:-42 43 44}
common=(--preset default --windows-per-record 3 --cache-dir .cache)
step() {  # name, then the train options
  local name=$1; shift
  [ -f "runs/$name.done" ] && return 0
  local resume=(); [ -f "runs/$name.run/state.json" ] && resume=(--resume)
  nice -n 10 .venv/bin/audiofuse train "$data" "${common[@]}" --out "runs/$name.keras" "$@" \
    "${resume[@]}" >> "runs/$name.log" 2>&1 && touch "runs/$name.done"
}
mkdir -p runs
for seed in $seeds; do
  step "spectrogram-s$seed" --model spectrogram --epochs 24 --patience 6 --seed "$seed" || exit 1
  step "waveform-s$seed" --model waveform --epochs 12 --patience 4 --seed "$seed" || exit 1
  step "fusion-s$seed" --model fusion --epochs 6 --patience 3 --seed "$seed" --freeze-branches \
    --branch-models "runs/spectrogram-s$seed.keras" "runs/waveform-s$seed.keras" || exit 1
  [ -f "runs/mean-s$seed.keras" ] || .venv/bin/audiofuse combine "runs/spectrogram-s$seed.keras" \
    "runs/waveform-s$seed.keras" "$data" --cache-dir .cache --out "runs/mean-s$seed.keras" \
    >> "runs/mean-s$seed.log" 2>&1 || exit 1
  [ -f "runs/default-s$seed.keras" ] || .venv/bin/audiofuse add-feature-expert \
    "runs/mean-s$seed.keras" "$data" --seed "$seed" --cache-dir .cache/fx \
    --out "runs/default-s$seed.keras" > "runs/default-s$seed.card.md" \
    2>> "runs/default-s$seed.log" || exit 1
done
