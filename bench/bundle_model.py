"""Copy a trained model into resources/models under its bundled name, naming it in its card.

    .venv/bin/python bench/bundle_model.py runs/fusion-s42.keras audiofuse-default.keras

Only the card's name changes (the weights, preset, threshold and validation figures are those
the training wrote); the file is saved atomically.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(source: str, name: str) -> int:
    from audiofuse_core.models import load_model, save_model
    from audiofuse_core.resources import models_dir

    model = load_model(source)
    model.metadata["trained_as"] = model.metadata.get("name", Path(source).stem)
    model.metadata["name"] = Path(name).stem
    print(save_model(model, models_dir() / name))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
