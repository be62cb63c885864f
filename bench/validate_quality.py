"""Validate the recording-quality gate on real data and on real recordings with realistic faults.

    .venv/bin/python bench/validate_quality.py [--data ../shared/data] [--faults 120]
                                               [--json bench/results/quality.json]

Every recording is read as the classifier reads it (resampled to the default model's 2000 Hz)
and judged by :func:`audiofuse_core.quality.assess_quality`. Reported:

1. the share of the PhysioNet 2016 development set (2160 real recordings) refused, per subset,
   with the reasons (target: under 10 %); the same for the 101 CirCor development recordings
   (children, another device; no target, for information);
2. the PASCAL ``artifact`` samples (they must fail) and the other PASCAL samples;
3. real recordings that pass, damaged with one fault at a time at several severities
   (``--faults`` of them, drawn at random from the PhysioNet set with a fixed seed):

   * clipping: the gain set so high that the loudest 0.5-3 % of the samples are cut flat;
   * rubbing: friction noise (0.1-1 kHz with a 1/f tilt, rising and falling over 0.3-1.5 s
     like a hand moving) over about 60 % of the recording, at a noise-to-heart level ratio;
   * movement: bumps of the chest piece (broadband 20-400 Hz transients decaying over
     15-40 ms, two to six times the loudest heart sound) at a rate per second;
   * speech: sentences spoken by espeak-ng (several voices and languages, 2 kHz like the
     recording) mixed in at a speech-to-heart level ratio, with natural pauses;
   * dropouts: the signal lost (zeros) in 50-500 ms gaps making up a share of the recording.

   Levels are RMS ratios in dB against the heart recording's own RMS (25-400 Hz).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audiofuse_core import quality  # noqa: E402
from audiofuse_core.audio import load_audio, resample  # noqa: E402
from audiofuse_core.datasets import scan_physionet  # noqa: E402

RATE = 2000
SENTENCES = [
    ("en-us", "Take a deep breath in and hold it. Now breathe out slowly, that is good."),
    ("en-gb", "Does it hurt when I press here? Tell me if you feel any pain in your chest."),
    ("de", "Bitte tief einatmen und die Luft anhalten. Jetzt langsam wieder ausatmen."),
    ("fr", "Respirez profondement, puis ne bougez plus. Tres bien, vous pouvez vous detendre."),
    ("es", "Respire hondo y aguante la respiracion. Ahora suelte el aire despacio, muy bien."),
    ("en-us+f3", "How long have you had this cough? Any fever or shortness of breath at night?"),
    ("it", "Si sdrai sul fianco sinistro e respiri normalmente, senza parlare, per favore."),
    ("en-gb+m3", "I am going to listen to your heart now. Please stay still for a few seconds."),
]


# -- faults --------------------------------------------------------------------------------------

def heart_rms(x: np.ndarray) -> float:
    return float(np.sqrt(10 ** (quality.level_dbfs(x, RATE) / 10.0)))


def clip(x: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """The gain set too high: the loudest ``share`` of the samples cut flat at the rails."""
    level = float(np.quantile(np.abs(x), 1.0 - share))
    return np.clip(x, -level, level)


def rubbing(x: np.ndarray, ratio_db: float, rng: np.random.Generator) -> np.ndarray:
    n = len(x)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    shape = np.where((freqs >= 100) & (freqs <= 1000), 1.0 / np.sqrt(np.maximum(freqs, 1)), 0.0)
    noise = np.fft.irfft(spectrum * shape, n)
    envelope = np.zeros(n)
    t = 0
    while t < n:  # strokes of 0.3-1.5 s with rests of 0.1-0.8 s: ~60 % covered
        length = int(rng.uniform(0.3, 1.5) * RATE)
        stroke = np.sin(np.linspace(0, np.pi, max(length, 2))) ** 0.5
        stroke *= rng.uniform(0.5, 1.0)
        envelope[t:t + length] = stroke[: n - t]
        t += length + int(rng.uniform(0.1, 0.8) * RATE)
    noise *= envelope
    covered = envelope > 0.05
    scale = heart_rms(x) * 10 ** (ratio_db / 20.0) / (np.sqrt(np.mean(noise[covered] ** 2)) + 1e-12)
    return x + scale * noise


def movement(x: np.ndarray, per_second: float, rng: np.random.Generator) -> np.ndarray:
    """Bumps and shifts of the chest piece: impulsive broadband transients (20-400 Hz noise
    decaying over 15-40 ms) two to six times as loud as the loudest heart sound.
    """
    from scipy.signal import butter, sosfilt

    y = x.copy()
    peak = float(np.abs(x).max())
    sos = butter(2, [20.0, 400.0], btype="bandpass", fs=RATE, output="sos")
    count = max(1, int(round(per_second * len(x) / RATE)))
    for _ in range(count):
        tau = rng.uniform(0.015, 0.04)
        length = int(5 * tau * RATE)
        start = int(rng.integers(0, max(1, len(x) - length)))
        burst = sosfilt(sos, rng.standard_normal(length)) * np.exp(-np.arange(length) / (tau * RATE))
        burst *= rng.uniform(2, 6) * peak / (np.abs(burst).max() + 1e-12)
        y[start:start + length] += burst[: len(y) - start]
    return y


def speech(x: np.ndarray, ratio_db: float, rng: np.random.Generator,
           voices: list[np.ndarray]) -> np.ndarray:
    n = len(x)
    track = np.zeros(n)
    t = int(rng.uniform(0, 1.0) * RATE)
    while t < n:
        utterance = voices[int(rng.integers(len(voices)))]
        piece = utterance[: n - t]
        track[t:t + len(piece)] += piece
        t += len(piece) + int(rng.uniform(0.3, 1.5) * RATE)
    active = np.abs(track) > 0.05 * np.abs(track).max()
    scale = heart_rms(x) * 10 ** (ratio_db / 20.0) / (np.sqrt(np.mean(track[active] ** 2)) + 1e-12)
    return x + scale * track


def dropouts(x: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    y = x.copy()
    lost = np.zeros(len(x), dtype=bool)
    while lost.mean() < share:
        length = int(rng.uniform(0.05, 0.5) * RATE)
        start = int(rng.integers(0, max(1, len(x) - length)))
        lost[start:start + length] = True
    y[lost] = 0.0
    return y


def make_voices(workdir: Path) -> list[np.ndarray]:
    """Synthesise the sentences with espeak-ng at 2 kHz; empty when espeak-ng is missing."""
    import soundfile as sf

    if shutil.which("espeak-ng") is None:
        return []
    voices = []
    for k, (voice, text) in enumerate(SENTENCES):
        path = workdir / f"speech{k}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text],
                       check=True, capture_output=True)
        samples, rate = sf.read(path, dtype="float32")
        voices.append(resample(samples, rate, RATE).astype(np.float64))
    return voices


def fault_plan(voices: list[np.ndarray]) -> list[tuple[str, str, object]]:
    """(fault, severity label, function of (x, rng))."""
    plan: list[tuple[str, str, object]] = []
    for share in (0.005, 0.01, 0.03):
        plan.append(("clipping", f"{share:.1%} cut", lambda x, r, q=share: clip(x, q, r)))
    for ratio in (-6.0, 0.0, 6.0):
        plan.append(("rubbing", f"{ratio:+.0f} dB", lambda x, r, q=ratio: rubbing(x, q, r)))
    for rate in (0.5, 1.0, 2.0):
        plan.append(("movement", f"{rate:g}/s", lambda x, r, q=rate: movement(x, q, r)))
    if voices:
        for ratio in (-6.0, 0.0, 6.0):
            plan.append(("speech", f"{ratio:+.0f} dB",
                         lambda x, r, q=ratio: speech(x, q, r, voices)))
    for share in (0.1, 0.2, 0.3):
        plan.append(("dropouts", f"{share:.0%} lost", lambda x, r, q=share: dropouts(x, q, r)))
    return plan


# -- runs ----------------------------------------------------------------------------------------

def judge(path: Path) -> tuple[quality.QualityReport, np.ndarray]:
    audio = load_audio(path, sample_rate=RATE)
    return quality.assess_quality(audio.samples, RATE), audio.samples


def annotated_share(wav: Path, n_samples: int) -> float:
    """The share of a CirCor recording its experts segmented (states 1-4 in the .tsv)."""
    from audiofuse_core.heartcycle import read_annotations

    tsv = wav.with_suffix(".tsv")
    if not tsv.is_file():
        return float("nan")
    rows = read_annotations(tsv)
    rows = rows[rows[:, 2] > 0]
    return float(np.sum(rows[:, 1] - rows[:, 0]) / (n_samples / RATE))


def summarise_reports(reports: list[quality.QualityReport]) -> dict:
    refused = [r for r in reports if not r.ok]
    return {
        "recordings": len(reports),
        "refused": len(refused),
        "refusal_rate": len(refused) / max(len(reports), 1),
        "first_reasons": dict(Counter(r.problems[0] for r in refused).most_common()),
    }


def timing(path: Path, seconds: float = 20.0, repeats: int = 20) -> dict:
    """Median time of the gate alone and of gate + segmentation (what the classifier adds) on
    ``seconds`` of a real recording, at 2000 Hz, one thread.
    """
    from audiofuse_core import heartcycle as hc

    samples = load_audio(path, sample_rate=RATE).samples
    samples = np.tile(samples, int(np.ceil(seconds * RATE / len(samples))))[: int(seconds * RATE)]
    quality.analyse_recording(samples, RATE)  # imports and caches
    figures = {}
    for name, call in (
        ("envelopes", lambda: hc.envelopes(samples, RATE)),
        ("gate", lambda: quality.assess_quality(samples, RATE)),
        ("gate_and_segmentation", lambda: quality.analyse_recording(samples, RATE)),
    ):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        figures[f"{name}_ms"] = 1000 * float(np.median(times))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--faults", type=int, default=120,
                        help="passing PhysioNet recordings to damage (0: none)")
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--limit", type=int, default=0, help="PhysioNet recordings (0: all)")
    parser.add_argument("--json", help="write the figures and every recording's indices here")
    args = parser.parse_args()
    data = Path(args.data)
    out: dict = {"thresholds": {
        "min_seconds": quality.MIN_SECONDS, "min_level_dbfs": quality.MIN_LEVEL_DBFS,
        "max_clipping": quality.MAX_CLIPPING, "max_dropout": quality.MAX_DROPOUT,
        "max_noise": quality.MAX_NOISE, "max_speech": quality.MAX_SPEECH,
        "min_periodicity": "0.65 / sqrt(duration s), at least 0.12"}}
    started = time.perf_counter()
    out["timing_20s"] = timing(data / "samples" / "physionet2016" / "training-a" / "a0238.wav")
    print("20 s recording: " + ", ".join(f"{k} {v:.1f}" for k, v in out["timing_20s"].items()))

    # 1. PhysioNet development set
    records = scan_physionet(data / "physionet2016-dev", probe=False).records
    if args.limit:
        records = records[:: max(1, len(records) // args.limit)][: args.limit]
    physionet = []
    for record in records:
        report, _ = judge(record.path)
        physionet.append({"name": record.name, "subset": record.subset, "label": record.label}
                         | report.to_dict())
    reports = [quality._report(r["indices"]) for r in physionet]
    out["physionet"] = summarise_reports(reports)
    by_subset = {}
    for subset in sorted({r["subset"] for r in physionet}):
        chosen = [rep for rep, r in zip(reports, physionet) if r["subset"] == subset]
        by_subset[subset] = summarise_reports(chosen)
    out["physionet"]["by_subset"] = by_subset
    for label, name in ((0, "normal"), (1, "abnormal")):
        chosen = [rep for rep, r in zip(reports, physionet) if r["label"] == label]
        out["physionet"][f"refusal_rate_{name}"] = summarise_reports(chosen)["refusal_rate"]
    print(f"PhysioNet dev: {out['physionet']['refused']}/{len(reports)} refused "
          f"({100 * out['physionet']['refusal_rate']:.1f} %; normal "
          f"{100 * out['physionet']['refusal_rate_normal']:.1f} %, abnormal "
          f"{100 * out['physionet']['refusal_rate_abnormal']:.1f} %), "
          f"{out['physionet']['first_reasons']} [{time.perf_counter() - started:.0f} s]")
    for subset, figures in by_subset.items():
        print(f"  {subset}: {100 * figures['refusal_rate']:.1f} % of {figures['recordings']}")

    # 2. CirCor development recordings (children; information only)
    circor = []
    for wav in sorted((data / "circor2022-dev" / "training_data").glob("*.wav")):
        report, samples = judge(wav)
        circor.append({"name": wav.stem, "annotated_share": annotated_share(wav, len(samples))}
                      | report.to_dict())
    out["circor"] = summarise_reports([quality._report(r["indices"]) for r in circor])
    # the experts segmented only the stretches they could read: a proxy of quality
    for verdict, name in ((True, "accepted"), (False, "refused")):
        shares = [r["annotated_share"] for r in circor if r["ok"] is verdict]
        out["circor"][f"annotated_share_{name}"] = float(np.mean(shares)) if shares else None
    print(f"CirCor dev: {out['circor']['refused']}/{len(circor)} refused "
          f"({100 * out['circor']['refusal_rate']:.1f} %), {out['circor']['first_reasons']}; "
          f"share the experts segmented: {out['circor']['annotated_share_accepted']:.2f} of "
          f"accepted, {out['circor']['annotated_share_refused']:.2f} of refused recordings")

    # 3. PASCAL samples
    pascal = []
    for wav in sorted((data / "samples" / "pascal_chsc2011").glob("set_*/*.wav")):
        report, _ = judge(wav)
        pascal.append({"name": wav.name} | report.to_dict())
        print(f"  PASCAL {wav.name}: {'pass' if report.ok else 'FAIL: ' + report.reason}")
    artifacts = [p for p in pascal if p["name"].startswith("artifact")]
    out["pascal"] = {"artifact_refused": sum(not p["ok"] for p in artifacts),
                     "artifact_total": len(artifacts),
                     "other_refused": sum(not p["ok"] for p in pascal if p not in artifacts),
                     "other_total": len(pascal) - len(artifacts)}

    # 4. faults on passing real recordings
    faults_out: dict = {}
    fault_rows = []
    if args.faults:
        rng = np.random.default_rng(args.seed)
        passing = [r for r, rep in zip(records, reports) if rep.ok]
        chosen = [passing[i] for i in rng.choice(len(passing), min(args.faults, len(passing)),
                                                 replace=False)]
        with tempfile.TemporaryDirectory() as tmp:
            voices = make_voices(Path(tmp))
        if not voices:
            print("espeak-ng not found: no speech faults (apt-get install espeak-ng)")
        plan = fault_plan(voices)
        counts: dict[tuple[str, str], list[int]] = {}
        for k, record in enumerate(chosen):
            _, clean = judge(record.path)
            clean = clean.astype(np.float64)
            for fault, severity, apply in plan:
                damaged = apply(clean, np.random.default_rng([args.seed, k, len(fault_rows)]))
                report = quality.assess_quality(damaged, RATE)
                hit = counts.setdefault((fault, severity), [0, 0, 0])
                hit[0] += not report.ok
                hit[1] += 1
                hit[2] += (not report.ok) and _matches(fault, report.problems)
                fault_rows.append({"name": record.name, "fault": fault, "severity": severity}
                                  | report.to_dict())
        for (fault, severity), (refused, total, right) in counts.items():
            faults_out.setdefault(fault, {})[severity] = {
                "refused": refused, "total": total, "refusal_rate": refused / total,
                "with_the_right_reason": right / total}
            print(f"  {fault:9s} {severity:10s}: {100 * refused / total:5.1f} % refused, "
                  f"{100 * right / total:5.1f} % with the matching reason")
    out["faults"] = faults_out
    print(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(
            {"summary": out, "physionet": physionet, "circor": circor, "pascal": pascal,
             "faults": fault_rows}, indent=1), encoding="utf-8")
    return 0


_EXPECTED = {"clipping": {"clipping"}, "rubbing": {"noise", "no_heart_cycle"},
             "movement": {"noise", "no_heart_cycle"}, "speech": {"speech"},
             "dropouts": {"dropouts"}}


def _matches(fault: str, problems: tuple[str, ...]) -> bool:
    return bool(set(problems) & _EXPECTED[fault])


if __name__ == "__main__":
    raise SystemExit(main())
