"""Experiments against the device shortcut, each measured in-domain and on left-out subsets.

* ``whiten``: the waveform expert trained on whitened windows (Preset.waveform_whiten_hz), then
  the fusion head on it and the seed-42 spectrogram expert;
* ``branch-dropout``: the fusion head alone retrained on the very experts of the bundled model
  and of bench/robustness.py's leave-one-out runs, with one branch's features dropped at random
  for a share of the windows (TrainConfig.branch_dropout), so that the head cannot lean on the
  waveform expert alone, which transfers worst.

* ``domain-adversarial``: the waveform expert trained with a subset classifier on its features
  whose gradient is reversed (TrainConfig.domain_adversarial), so that it unlearns the device;
  in-domain also the mean of it and the bundled spectrogram expert (``audiofuse combine``).

* ``subset-ranking``: the waveform expert (and with ``--spectrogram`` the spectrogram ViT, 24
  epochs) trained with a ranking loss between abnormal and normal windows of the same subset
  beside the cross-entropy (TrainConfig.subset_ranking); in-domain also its mean with the bundled
  spectrogram expert (seed 42 only: the one ViT in the repository), and with ``--spectrogram``
  the mean of the two ranked experts and the default's recipe on it (the feature expert added).

* ``random-response``: the waveform expert trained with a random smooth frequency response
  (gains at 8 frequencies of 25-800 Hz, standard deviation ``--spread`` dB) on top of the usual
  augmentation (TrainConfig.random_response_db): every window through another stethoscope; then
  the default's recipe on it with the bundled ViT (seed 42, for every seed of the CNN), as for
  ``subset-ranking``; ``--spread 0`` trains the plain CNN of the same seed for comparison; with
  ``--spectrogram`` also a ViT of 24 epochs coloured alike, then the mean of the two coloured
  experts and the default's recipe on it (both experts coloured).

* ``weight-average``: both experts (the waveform CNN and, with ``--spectrogram``, the 24-epoch
  ViT) trained as usual but validated, and kept, as an exponential moving average of their
  weights (TrainConfig.weight_average, momentum ``--momentum`` per step), then the default's
  recipe on them, as for ``random-response``; ``--vit-epochs N`` continues the averaged ViT
  (whose validation curve was still rising at 24 epochs) to a budget of N, beside the same CNN;
  ``--ensemble 42 43 44`` puts those seeds' averaged experts in one mean (each branch half the
  weight), then the feature expert.

In-domain: the usual validation split (figures from the model file's metadata). Leave one subset
out: trained on the other five subsets, every recording of the left-out one scored (compare with
docs/results.md's table; needs bench/robustness.py's models in runs/).

Usage: .venv/bin/python bench/experiments.py whiten [--smooth-hz 20] [--loso b a f]
       .venv/bin/python bench/experiments.py branch-dropout [--rate 0.5] [--loso b a f]
       .venv/bin/python bench/experiments.py domain-adversarial [--weight 0.3] [--loso b]
       .venv/bin/python bench/experiments.py subset-ranking [--weight 1] [--spectrogram] --loso
       .venv/bin/python bench/experiments.py random-response [--spread 6] [--spectrogram] --loso
       .venv/bin/python bench/experiments.py weight-average [--momentum 0.998] [--spectrogram]
                                                            [--vit-epochs 40] --loso
       .venv/bin/python bench/experiments.py weight-average --vit-epochs 40 --ensemble 42 43 44 \
           --loso
Models go to runs/experiments/ (not in git), results to bench/results/<experiment>-*.json.
Resumable: rerun the same command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"
RUNS = REPO / "runs" / "experiments"
BUNDLED = REPO / "resources" / "models"
VIT_EPOCHS = 24  # the bundled recipe's budget for the spectrogram ViT


def train_waveform(records, out: Path, preset: dict | str, seed: int, **settings) -> Path:
    return _train(records, out, seed, preset=preset, kind="waveform", epochs=12, patience=4,
                  **settings)


def train_fusion(records, out: Path, spectrogram: Path, waveform: Path, seed: int,
                 **settings) -> Path:
    """bench/train_models.sh's fusion step: the head on the two frozen experts."""
    return _train(records, out, seed, kind="fusion", epochs=6, patience=3, freeze_branches=True,
                  branch_models=[str(spectrogram), str(waveform)], **settings)


def _train(records, out: Path, seed: int, **settings) -> Path:
    from audiofuse_core.training import TrainConfig, train

    if out.is_file():
        return out
    run_dir = out.with_name(out.stem + ".run")
    config = TrainConfig(out=str(out), seed=seed, windows_per_record=3,
                         cache_dir=str(REPO / ".cache"),
                         resume=(run_dir / "state.json").is_file(), **settings)
    train(config, records)
    return out


def _summary(meta: dict) -> dict:
    return {k: meta[k] for k in ("validation", "best_epoch", "training_seconds", "history",
                                 "threshold")}


def _line(meta: dict) -> str:
    val = meta["validation"]
    return (f"ROC-AUC {val['overall']['roc_auc']:.3f}, MCC {val['overall']['mcc']:.3f}, within "
            + ", ".join(f"{k} {v['roc_auc']:.3f}" for k, v in val["per_subset"].items()
                        if v.get("roc_auc") is not None))


def whiten(args, records) -> None:
    from audiofuse_core.presets import DEFAULT

    preset = DEFAULT.replace(waveform_whiten_hz=args.smooth_hz).to_dict()
    tag = f"whiten-w{args.smooth_hz:g}-s{args.seed}"

    def models(kept, prefix: str, spectrogram: Path) -> dict[str, Path]:
        waveform = train_waveform(kept, RUNS / f"{prefix}waveform-{tag}.keras", preset, args.seed)
        found = {"waveform": waveform}
        if spectrogram.is_file():
            found["fusion"] = train_fusion(kept, RUNS / f"{prefix}fusion-{tag}.keras",
                                           spectrogram, waveform, args.seed)
        return found

    _measure(args, records, tag,
             lambda kept: models(kept, "", BUNDLED / "audiofuse-spectrogram.keras"),
             lambda kept, letter: models(kept, f"loso-{letter}-",
                                         REPO / "runs" / f"loso-{letter}-spectrogram.keras"))


def branch_dropout(args, records) -> None:
    tag = f"branch-dropout-p{args.rate:g}-s{args.seed}"

    def models(kept, prefix: str, spectrogram: Path, waveform: Path) -> dict[str, Path]:
        return {"fusion": train_fusion(kept, RUNS / f"{prefix}fusion-{tag}.keras", spectrogram,
                                       waveform, args.seed, branch_dropout=args.rate)}

    _measure(args, records, tag,
             lambda kept: models(kept, "", BUNDLED / "audiofuse-spectrogram.keras",
                                 BUNDLED / "audiofuse-waveform.keras"),
             lambda kept, letter: models(kept, f"loso-{letter}-",
                                         *(REPO / "runs" / f"loso-{letter}-{kind}.keras"
                                           for kind in ("spectrogram", "waveform"))))


def domain_adversarial(args, records) -> None:
    tag = f"domain-adversarial-w{args.weight:g}-s{args.seed}"

    def in_domain(kept) -> dict[str, Path]:
        from audiofuse_core.ensemble import combine_experts

        waveform = train_waveform(kept, RUNS / f"waveform-{tag}.keras", "default", args.seed,
                                  domain_adversarial=args.weight)
        mean = RUNS / f"mean-{tag}.keras"
        if not mean.is_file():
            combine_experts([BUNDLED / "audiofuse-spectrogram.keras", waveform], kept, mean,
                            cache_dir=str(REPO / ".cache"))
        return {"waveform": waveform, "mean": mean}

    _measure(args, records, tag, in_domain,
             lambda kept, letter: {"waveform": train_waveform(
                 kept, RUNS / f"loso-{letter}-waveform-{tag}.keras", "default", args.seed,
                 domain_adversarial=args.weight)})


def subset_ranking(args, records) -> None:
    _waveform_experiment(args, records, f"subset-ranking-w{args.weight:g}-s{args.seed}",
                         {"subset_ranking": args.weight} if args.spectrogram else None,
                         subset_ranking=args.weight)


def random_response(args, records) -> None:
    _waveform_experiment(args, records, f"random-response-d{args.spread:g}-s{args.seed}",
                         {"random_response_db": args.spread} if args.spectrogram else None,
                         random_response_db=args.spread)


def _weight_average_tag(args, member: str, vit_epochs: int = VIT_EPOCHS) -> str:
    """The name of a weight-average run: ``member`` is ``sSEED`` or ``ensemble-SEEDS``."""
    budget = "" if vit_epochs == VIT_EPOCHS else f"-v{vit_epochs}"
    return f"weight-average-m{args.momentum:g}{budget}-{member}"


def weight_average(args, records) -> None:
    if args.ensemble:
        weight_average_ensemble(args, records)
        return
    base = _weight_average_tag(args, f"s{args.seed}")
    if args.vit_epochs == VIT_EPOCHS:
        _waveform_experiment(args, records, base,
                             {"weight_average": args.momentum} if args.spectrogram else None,
                             weight_average=args.momentum)
        return
    # a longer budget for the averaged ViT only: the 24-epoch run goes on (on a copy) to
    # --vit-epochs, which at a constant learning rate, with the optimizer's state and the
    # epoch-seeded sampling carried on, is the longer run; the same seed's averaged CNN is kept
    if not args.spectrogram:
        raise SystemExit("--vit-epochs needs --spectrogram")
    tag = _weight_average_tag(args, f"s{args.seed}", args.vit_epochs)
    _continue_run(RUNS / f"spectrogram-{base}.run", RUNS / f"spectrogram-{tag}.run")
    _measure(args, records, tag,
             lambda kept: _recipe(args, kept, tag, {"weight_average": args.momentum},
                                  waveform_tag=base, vit_epochs=args.vit_epochs,
                                  weight_average=args.momentum),
             lambda kept, letter: {})


def _continue_run(finished: Path, copy: Path) -> None:
    """A copy of a finished training run's folder, marked unfinished so that training resumes
    it with a larger epoch budget (the finished run itself is left as it is).
    """
    import shutil

    if copy.exists() or not (finished / "state.json").is_file():
        return
    state = json.loads((finished / "state.json").read_text())
    if not state.get("finished"):
        raise SystemExit(f"{finished} has not finished: run the 24-epoch experiment first")
    part = copy.with_name(copy.name + ".part")  # renamed when whole: an interrupted copy is
    shutil.rmtree(part, ignore_errors=True)      # never taken for the run
    shutil.copytree(finished, part)
    state["finished"] = False
    (part / "state.json").write_text(json.dumps(state, indent=1))
    part.rename(copy)


def _waveform_experiment(args, records, tag: str, spectrogram_settings: dict | None,
                         **settings) -> None:
    """In-domain: :func:`_recipe`; left out: the waveform CNN alone, trained with ``settings``."""
    _measure(args, records, tag,
             lambda kept: _recipe(args, kept, tag, spectrogram_settings, **settings),
             lambda kept, letter: {"waveform": train_waveform(
                 kept, RUNS / f"loso-{letter}-waveform-{tag}.keras", "default", args.seed,
                 **settings)})


def _recipe(args, kept, tag: str, spectrogram_settings: dict | None,
            waveform_tag: str | None = None, vit_epochs: int = VIT_EPOCHS,
            **settings) -> dict[str, Path]:
    """The waveform CNN trained with ``settings``, then the default's recipe on it: its mean with
    the bundled spectrogram ViT (seed 42, the one ViT in the repository, whatever the CNN's
    seed: other seeds then compare CNNs on one ViT) and, with
    ``spectrogram_settings``, with a ViT of ``vit_epochs`` epochs trained with those; each mean
    then with the five-seed feature expert. With ``waveform_tag`` the CNN is that experiment's
    (the same seed's; trained there if missing) and only the new ViT's models are measured.
    """
    waveform = train_waveform(kept, RUNS / f"waveform-{waveform_tag or tag}.keras", "default",
                              args.seed, **settings)
    if waveform_tag is None:
        models = {"waveform": waveform}
        pairs = {"mean-bundled-vit": BUNDLED / "audiofuse-spectrogram.keras"}
    else:  # the CNN and its mean with the bundled ViT are measured in their own experiment
        models, pairs = {}, {}
    if spectrogram_settings is not None:
        models["spectrogram"] = pairs["mean"] = _train(
            kept, RUNS / f"spectrogram-{tag}.keras", args.seed, preset="default",
            kind="spectrogram", epochs=vit_epochs, patience=6, **spectrogram_settings)
    for kind, spectrogram in pairs.items():
        models.update(_default_recipe([spectrogram, waveform], kept, kind, tag, args.seed))
    return models


def _default_recipe(experts: list[Path], kept, kind: str, tag: str,
                    seed: int) -> dict[str, Path]:
    """The experts' mean (``audiofuse combine``), then that mean with the five-seed feature
    expert of ``seed`` (``audiofuse add-feature-expert``): the default's recipe.
    """
    from audiofuse_core.ensemble import combine_experts
    from audiofuse_core.feature_expert import add_feature_expert

    mean, default = RUNS / f"{kind}-{tag}.keras", RUNS / f"default-{kind}-{tag}.keras"
    if not mean.is_file():
        combine_experts(experts, kept, mean, cache_dir=str(REPO / ".cache"))
    if not default.is_file():
        add_feature_expert(mean, kept, default, seed=seed, cache_dir=str(REPO / ".cache" / "fx"))
    return {kind: mean, f"default-{kind}": default}


def weight_average_ensemble(args, records) -> None:
    """The averaged experts of several seeds (the ViTs of ``--vit-epochs``) in one mean, each
    branch holding half the weight, then the feature expert of ``--seed``: one ensemble.
    """
    experts = ([RUNS / f"spectrogram-{_weight_average_tag(args, f's{s}', args.vit_epochs)}.keras"
                for s in args.ensemble]
               + [RUNS / f"waveform-{_weight_average_tag(args, f's{s}')}.keras"
                  for s in args.ensemble])
    missing = [str(p) for p in experts if not p.is_file()]
    if missing:
        raise SystemExit("run each seed's weight-average experiment first; missing: "
                         + ", ".join(missing))
    seeds = "-".join(str(s) for s in args.ensemble)
    tag = _weight_average_tag(args, f"ensemble-{seeds}", args.vit_epochs)
    _measure(args, records, tag,
             lambda kept: _default_recipe(experts, kept, "mean", tag, args.seed),
             lambda kept, letter: {})


def _measure(args, records, tag: str, in_domain, left_out) -> None:
    from audiofuse_core.datasets import scan
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.modelfile import read_model_metadata

    RUNS.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.skip_in_domain:
        for kind, model in in_domain(records).items():
            meta = read_model_metadata(model)
            (RESULTS / f"{tag}-{kind}-validation.json").write_text(
                json.dumps(_summary(meta), indent=1))
            print(f"in-domain {kind} {tag}: {_line(meta)}", flush=True)
            circor = RESULTS / f"{tag}-circor-{kind}.json"
            if not circor.is_file():  # another device and population, zero-shot
                report = evaluate(model, scan(SHARED / "circor2022-dev").records)
                circor.write_text(report.to_json())
            _print_report(f"CirCor, {kind}", json.loads(circor.read_text())["overall"])
    for letter in args.loso:
        held = f"training-{letter}"
        kept = [r for r in records if r.subset != held]
        for kind, model in left_out(kept, letter).items():
            report = evaluate(model, [r for r in records if r.subset == held])
            (RESULTS / f"{tag}-loso-{letter}-{kind}.json").write_text(report.to_json())
            _print_report(f"left out {held}, {kind}", report.overall)


def _print_report(what: str, m: dict) -> None:
    print(f"{what}: ROC-AUC {m['roc_auc']:.3f} [{m['roc_auc_low']:.3f}, {m['roc_auc_high']:.3f}], "
          f"sensitivity {m['sensitivity']:.3f}, specificity {m['specificity']:.3f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="experiment", required=True)
    for name in ("whiten", "branch-dropout", "domain-adversarial", "subset-ranking",
                 "random-response", "weight-average"):
        p = sub.add_parser(name)
        p.add_argument("--seed", type=int, default=42)
        p.add_argument("--loso", nargs="*", default=["b", "a", "f"])
        p.add_argument("--skip-in-domain", action="store_true")
        if name == "whiten":
            p.add_argument("--smooth-hz", type=float, default=20.0)
        elif name == "domain-adversarial":
            p.add_argument("--weight", type=float, default=0.3)
        elif name == "subset-ranking":
            p.add_argument("--weight", type=float, default=1.0)
            p.add_argument("--spectrogram", action="store_true",
                           help="also train the spectrogram ViT with the ranking loss")
        elif name == "random-response":
            p.add_argument("--spread", type=float, default=6.0,
                           help="standard deviation in dB of the response's gains")
            p.add_argument("--spectrogram", action="store_true",
                           help="also train the spectrogram ViT with the random response")
        elif name == "weight-average":
            p.add_argument("--momentum", type=float, default=0.998,
                           help="the moving average's momentum per training step")
            p.add_argument("--spectrogram", action="store_true",
                           help="also train the spectrogram ViT with the weight average")
            p.add_argument("--vit-epochs", type=int, default=VIT_EPOCHS,
                           help="the averaged ViT's budget; above 24 the 24-epoch run goes on "
                                "(in-domain only)")
            p.add_argument("--ensemble", type=int, nargs="+", metavar="SEED",
                           help="instead: the averaged experts of these seeds in one mean, then "
                                "the feature expert of --seed (in-domain only)")
        else:
            p.add_argument("--rate", type=float, default=0.5)
    args = parser.parse_args()

    from audiofuse_core.datasets import scan

    records = scan(SHARED / "physionet2016-dev").records
    {"whiten": whiten, "branch-dropout": branch_dropout,
     "domain-adversarial": domain_adversarial,
     "subset-ranking": subset_ranking,
     "random-response": random_response,
     "weight-average": weight_average}[args.experiment](args, records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
