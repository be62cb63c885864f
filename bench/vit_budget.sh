#!/bin/bash
# The spectrogram ViT with twice the training budget (24 epochs, patience 6, instead of 12 and 4),
# then the rest of the bundled recipe on it, seed by seed (docs/results.md, "A longer budget for
# the spectrogram ViT"): the mean with the same seed's waveform CNN (the bundled one for seed 42,
# runs/waveform-sS.keras otherwise, as in the three-seed table), then the five-seed feature
# expert. Everything else as bench/train_models.sh. Resumable: rerun the same command after an
# interruption (an unfinished ViT resumes from its last epoch; finished steps are kept).
#   bench/vit_budget.sh [SEED...]       (default: 42 43 44)
# Models and logs go to runs/ (not in git); about 45 min per seed on a 2-core CPU.
set -u
cd "$(dirname "$0")/.."
data=../shared/data/physionet2016-dev
seeds=${*:-42 43 44}
for seed in $seeds; do
  vit=runs/spectrogram-e24-s$seed
  if [ ! -f "$vit.keras" ]; then
    resume=(); [ -f "$vit.run/state.json" ] && resume=(--resume)
    nice -n 5 .venv/bin/audiofuse train "$data" --preset default --windows-per-record 3 \
      --cache-dir .cache --model spectrogram --epochs 24 --patience 6 --seed "$seed" \
      --out "$vit.keras" --run-dir "$vit.run" "${resume[@]}" >> "$vit.log" 2>&1 || exit 1
  fi
  wave=runs/waveform-s$seed.keras
  [ "$seed" = 42 ] && wave=resources/models/audiofuse-waveform.keras
  [ -f "runs/mean-e24-s$seed.keras" ] || .venv/bin/audiofuse combine "$vit.keras" "$wave" "$data" \
    --cache-dir .cache --out "runs/mean-e24-s$seed.keras" >> "runs/mean-e24-s$seed.log" 2>&1 \
    || exit 1
  [ -f "runs/default-e24-s$seed.keras" ] || .venv/bin/audiofuse add-feature-expert \
    "runs/mean-e24-s$seed.keras" "$data" --seed "$seed" --cache-dir .cache/fx \
    --out "runs/default-e24-s$seed.keras" > "runs/default-e24-s$seed.card.md" \
    2>> "runs/default-e24-s$seed.log" || exit 1
done
