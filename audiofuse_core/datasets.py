"""Labelled data-set folders: PhysioNet 2016, PASCAL "heartbeat-sounds", and a generic layout.

A scan never stops on a bad file: it returns the usable records and a report of every file it
skipped, with the reason. Scanning reads headers only (``soundfile.info``), not the audio.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .audio import AUDIO_EXTENSIONS, is_audio_path
from .errors import DatasetError

CLASS_NAMES = ("normal", "abnormal")
NORMAL, ABNORMAL = 0, 1
PASCAL_ABNORMAL = ("murmur", "extrahls", "extrastole")
PASCAL_LABELS = ("normal", *PASCAL_ABNORMAL, "artifact")
# Names a user may give the folders or CSV labels of the generic layout.
_NORMAL_NAMES = {"normal", "0", "-1", "healthy", "absent", "negative", "no"}
_ABNORMAL_NAMES = {"abnormal", "1", "murmur", "present", "pathological", "positive", "yes",
                   "disease", "diseased"}


@dataclass(frozen=True)
class Record:
    """One labelled recording. ``subset`` names its source group (device/site where known)."""

    path: Path
    label: int  # 0 normal, 1 abnormal
    subset: str
    dataset: str
    original_label: str = ""
    sample_rate: int | None = None
    duration: float | None = None

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass
class Skipped:
    path: Path
    reason: str


@dataclass
class ScanResult:
    """What a scan found: usable records, and every file passed over with its reason."""

    root: Path
    layout: str
    records: list[Record] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Records per subset and label name."""
        table: dict[str, Counter] = {}
        for record in self.records:
            table.setdefault(record.subset, Counter())[CLASS_NAMES[record.label]] += 1
        return {subset: dict(counter) for subset, counter in sorted(table.items())}

    def summary(self) -> str:
        labels = Counter(CLASS_NAMES[r.label] for r in self.records)
        text = (
            f"{self.root}: {len(self.records)} recordings ({self.layout} layout; "
            f"{labels.get('normal', 0)} normal, {labels.get('abnormal', 0)} abnormal)"
        )
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        return text

    def check_trainable(self) -> None:
        """Raise :class:`DatasetError` unless both classes are present."""
        if not self.records:
            raise DatasetError(f"{self.root}: no labelled recordings found")
        present = {r.label for r in self.records}
        if len(present) < 2:
            only = CLASS_NAMES[present.pop()]
            raise DatasetError(
                f"{self.root}: every recording is labelled '{only}'; training needs both "
                "normal and abnormal recordings"
            )


def scan(root: str | Path, *, artifact_as_abnormal: bool = False, probe: bool = True) -> ScanResult:
    """Scan a folder in whichever supported layout it uses (detected from its files)."""
    root = _check_root(root)
    layout = detect_layout(root)
    if layout == "physionet":
        return scan_physionet(root, probe=probe)
    if layout == "pascal":
        return scan_pascal(root, artifact_as_abnormal=artifact_as_abnormal, probe=probe)
    if layout == "circor":
        return scan_circor(root, probe=probe)
    return scan_generic(root, probe=probe)


def scan_many(roots: list[str | Path], **options: object) -> ScanResult:
    """Scan several folders and merge the results."""
    results = [scan(root, **options) for root in roots]  # type: ignore[arg-type]
    merged = ScanResult(root=results[0].root, layout="+".join(sorted({r.layout for r in results})))
    for result in results:
        merged.records.extend(result.records)
        merged.skipped.extend(result.skipped)
    return merged


def detect_layout(root: Path) -> str:
    """``physionet``, ``circor``, ``pascal`` or ``generic``."""
    if any(root.glob("REFERENCE.csv")) or any(root.glob("*/REFERENCE.csv")):
        return "physionet"
    if _circor_table(root) is not None:
        return "circor"
    files = _audio_files(root) + [p for sub in sorted(root.iterdir()) if sub.is_dir()
                                  for p in _audio_files(sub)]
    prefixes = {p.name.split("_")[0].split("__")[0].lower() for p in files}
    if prefixes & set(PASCAL_LABELS) or any("unlabelledtest" in p for p in prefixes):
        if not _labels_csv(root):
            return "pascal"
    return "generic"


def scan_physionet(root: str | Path, *, probe: bool = True) -> ScanResult:
    """PhysioNet 2016: ``REFERENCE.csv`` (``name,label``; 1 abnormal, -1 normal) per folder.

    The audio is matched by stem with any supported extension (the shared set is FLAC, the public
    release WAV). ``root`` may be one ``training-x`` folder or their parent.
    """
    root = _check_root(root)
    result = ScanResult(root=root, layout="physionet")
    references = sorted(root.glob("REFERENCE.csv")) + sorted(root.glob("*/REFERENCE.csv"))
    if not references:
        raise DatasetError(f"{root}: no REFERENCE.csv found (not a PhysioNet 2016 folder)")
    for reference in references:
        folder = reference.parent
        by_stem = {p.stem: p for p in _audio_files(folder)}
        listed = set()
        try:
            rows = list(csv.reader(reference.open(newline="", encoding="utf-8-sig")))
        except (OSError, UnicodeDecodeError) as exc:
            result.skipped.append(Skipped(reference, f"cannot read the label file ({exc})"))
            continue
        for line_no, row in enumerate(rows, start=1):
            if not row or not row[0].strip():
                continue
            name = row[0].strip()
            listed.add(name)
            if len(row) < 2 or row[1].strip() not in ("1", "-1"):
                result.skipped.append(
                    Skipped(folder / name, f"{reference.name} line {line_no}: label is not 1 or -1")
                )
                continue
            audio = by_stem.get(name)
            if audio is None:
                result.skipped.append(
                    Skipped(folder / name, f"listed in {reference.name} but no audio file found")
                )
                continue
            label = ABNORMAL if row[1].strip() == "1" else NORMAL
            _add(result, audio, label, folder.name, "physionet2016", row[1].strip(), probe)
        for stem, audio in sorted(by_stem.items()):
            if stem not in listed:
                result.skipped.append(Skipped(audio, f"not listed in {reference.name}"))
    # a folder of recordings beside the labelled ones but without its own label file: say so,
    # recording by recording, rather than leave it out unseen
    labelled = {reference.parent for reference in references}
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        if folder not in labelled:
            result.skipped.extend(
                Skipped(audio, f"no REFERENCE.csv in {folder.name}/, so no label")
                for audio in _audio_files(folder))
    return result


def scan_pascal(
    root: str | Path, *, artifact_as_abnormal: bool = False, probe: bool = True
) -> ScanResult:
    """PASCAL CHSC 2011 in the "heartbeat-sounds" layout: the label is the file-name prefix.

    ``normal`` is normal; ``murmur``, ``extrahls`` and ``extrastole`` are abnormal; ``artifact`` is
    skipped unless ``artifact_as_abnormal`` (the paper's choice); unlabelled test files are skipped.
    The subset is the folder (``set_a`` phone app, ``set_b`` clinic stethoscope).
    """
    root = _check_root(root)
    result = ScanResult(root=root, layout="pascal")
    for audio in _audio_files(root, recursive=True):
        prefix = audio.name.split("__")[0].split("_")[0].lower()
        subset = audio.parent.name if audio.parent != root else root.name
        if "unlabelled" in prefix:
            result.skipped.append(Skipped(audio, "unlabelled test file"))
        elif prefix == "normal":
            _add(result, audio, NORMAL, subset, "pascal2011", prefix, probe)
        elif prefix in PASCAL_ABNORMAL:
            _add(result, audio, ABNORMAL, subset, "pascal2011", prefix, probe)
        elif prefix == "artifact":
            if artifact_as_abnormal:
                _add(result, audio, ABNORMAL, subset, "pascal2011", prefix, probe)
            else:
                result.skipped.append(
                    Skipped(audio, "artifact recording (not a heart sound); kept apart")
                )
        else:
            result.skipped.append(Skipped(audio, f"unknown label prefix '{prefix}'"))
    return result


def scan_generic(root: str | Path, *, probe: bool = True) -> ScanResult:
    """A user's own data: a labels CSV (``file,label``) or one folder per class.

    Label names understood: normal / abnormal, and common synonyms (0/1, absent/present,
    healthy/murmur...). The subset is the first folder level below ``root``.
    """
    root = _check_root(root)
    result = ScanResult(root=root, layout="generic")
    labels_csv = _labels_csv(root)
    if labels_csv is not None:
        _scan_labels_csv(root, labels_csv, result, probe)
        return result
    for audio in _audio_files(root, recursive=True):
        parts = audio.relative_to(root).parts[:-1]
        names = [_label_from_name(p) for p in reversed(parts)]
        label = next((value for value in names if value is not None), None)
        if label is None:
            where = "/".join(parts) or "the top folder"
            result.skipped.append(
                Skipped(audio, f"no label: {where} is not a class folder (normal/abnormal)")
            )
            continue
        subset = parts[0] if len(parts) > 1 else root.name
        _add(result, audio, label, subset, "generic", parts[-1], probe)
    return result


def scan_circor(root: str | Path, *, probe: bool = True) -> ScanResult:
    """CirCor DigiScope 2022: ``training_data.csv`` (one row per patient) beside or above
    ``training_data/<patient>_<site>.wav``.

    A recording is abnormal when its patient has a murmur audible at its site ("Murmur
    locations"), normal when the patient has no murmur; recordings of a patient whose murmur is
    "Unknown", or at a site where the patient's murmur is not heard, are skipped. The subset is
    the data-collection campaign (CC2014, CC2015).
    """
    root = _check_root(root)
    table = _circor_table(root)
    if table is None:
        raise DatasetError(f"{root}: no training_data.csv found (not a CirCor folder)")
    result = ScanResult(root=root, layout="circor")
    try:
        patients = {row["Patient ID"].strip(): row for row in
                    csv.DictReader(table.open(newline="", encoding="utf-8-sig"))}
    except (OSError, KeyError, csv.Error) as exc:
        raise DatasetError(f"{table}: cannot read the patient table ({exc})") from None
    folder = root / "training_data" if (root / "training_data").is_dir() else root
    for audio in _audio_files(folder):
        patient, _, site = audio.stem.partition("_")
        row = patients.get(patient)
        if row is None:
            result.skipped.append(Skipped(audio, "patient not in training_data.csv"))
            continue
        murmur = (row.get("Murmur") or "").strip()
        sites = set((row.get("Murmur locations") or "").replace("nan", "").split("+"))
        subset = (row.get("Campaign") or "circor").strip() or "circor"
        base_site = site.split("_")[0]
        if murmur == "Absent":
            _add(result, audio, NORMAL, subset, "circor2022", "murmur absent", probe)
        elif murmur == "Present" and base_site in sites:
            _add(result, audio, ABNORMAL, subset, "circor2022", "murmur present", probe)
        elif murmur == "Present":
            result.skipped.append(Skipped(audio, "murmur present in the patient but not heard "
                                                 f"at this site ({site})"))
        else:
            result.skipped.append(Skipped(audio, f"murmur '{murmur or 'missing'}'"))
    return result


def _circor_table(root: Path) -> Path | None:
    for candidate in (root / "training_data.csv", root.parent / "training_data.csv"):
        if candidate.is_file() and (root / "training_data").is_dir() or (
                candidate.is_file() and candidate.parent == root.parent
                and root.name == "training_data"):
            return candidate
    return None


def _scan_labels_csv(root: Path, labels_csv: Path, result: ScanResult, probe: bool) -> None:
    try:
        reader = csv.DictReader(labels_csv.open(newline="", encoding="utf-8-sig"))
        rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{labels_csv}: cannot read the labels file ({exc})") from None
    if not reader.fieldnames:
        raise DatasetError(f"{labels_csv}: the labels file is empty")
    columns = {c.lower().strip(): c for c in reader.fieldnames}
    file_col = next((columns[c] for c in ("file", "filename", "fname", "path", "name", "record")
                     if c in columns), None)
    label_col = next((columns[c] for c in ("label", "class", "diagnosis", "outcome", "murmur")
                      if c in columns), None)
    if file_col is None or label_col is None:
        raise DatasetError(
            f"{labels_csv}: needs a 'file' and a 'label' column (found: {', '.join(columns)})"
        )
    if not rows:
        raise DatasetError(f"{labels_csv}: the labels file lists no recordings")
    subset_col = next((columns[c] for c in ("subset", "site", "device", "group") if c in columns),
                      None)
    for line_no, row in enumerate(rows, start=2):
        name = (row.get(file_col) or "").strip()
        if not name:
            continue
        candidate = root / name
        if not candidate.exists() and not candidate.suffix:
            candidate = next((candidate.with_suffix(e) for e in AUDIO_EXTENSIONS
                              if candidate.with_suffix(e).exists()), candidate)
        label = _label_from_name((row.get(label_col) or "").strip())
        if label is None:
            result.skipped.append(
                Skipped(candidate, f"{labels_csv.name} line {line_no}: label "
                                   f"'{row.get(label_col)}' is neither normal nor abnormal")
            )
            continue
        if not candidate.is_file():
            result.skipped.append(Skipped(candidate, f"listed in {labels_csv.name} but not found"))
            continue
        subset = (row.get(subset_col) or "").strip() if subset_col else ""
        _add(result, candidate, label, subset or root.name, "generic",
             (row.get(label_col) or "").strip(), probe)


def _add(result: ScanResult, audio: Path, label: int, subset: str, dataset: str,
         original: str, probe: bool) -> None:
    rate = duration = None
    if probe:
        import soundfile as sf

        try:
            info = sf.info(str(audio))
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, never raised
            result.skipped.append(Skipped(audio, f"not readable audio ({str(exc).strip()[:120]})"))
            return
        if info.frames <= 0:
            result.skipped.append(Skipped(audio, "holds no audio samples"))
            return
        rate, duration = int(info.samplerate), info.frames / float(info.samplerate)
    result.records.append(Record(audio, label, subset, dataset, original, rate, duration))


def _label_from_name(name: str) -> int | None:
    key = name.strip().lower()
    if key in _NORMAL_NAMES:
        return NORMAL
    if key in _ABNORMAL_NAMES:
        return ABNORMAL
    return None


def _labels_csv(root: Path) -> Path | None:
    for name in ("labels.csv", "LABELS.csv", "labels.CSV"):
        if (root / name).is_file():
            return root / name
    return None


def _audio_files(folder: Path, recursive: bool = False) -> list[Path]:
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in pattern if p.is_file() and is_audio_path(p)
                  and not p.name.startswith("."))


def _check_root(root: str | Path) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: folder not found")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    return root
