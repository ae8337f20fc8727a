"""Thresholds measured on the user's own labelled faces or voices.

The user gives one folder per identity (``alice/1.jpg``, ``alice/2.jpg``, ``bob/...``).
Every file goes through exactly the analyzer and model the library uses (``faces``: the
embedding of the best face of each image; ``speakers``: the embedding of the main
speaker of each clip), in memory like a search query. All pairs are compared with the
library's metric (L2 distance between L2-normalised embeddings): pairs within one
identity are *genuine*, pairs across identities *impostor*.

The proposed threshold is the distance with at most ``target_far`` of the impostor
pairs below it. With ``n`` impostor pairs the false-match rate can only be measured
in steps of ``1/n``: below that the boundary is the closest impostor pair, and the
threshold is put half-way between it and the farthest genuine pair still under it, so
the measured TAR and FAR are those of the boundary with the largest margin on both
sides (``far_resolution`` in the report says how coarse the measurement was). The
logistic ``scale`` of the model is kept (only the centre moves): scores keep their
meaning of "how sure" around the new centre.

Measured on the generated sets of ``tests/identity/test_calibrate.py`` (calibration
seed 11, checked on seed 12): dlib faces of two real people under flips, crops,
brightness and scale: genuine 0.06-0.24, impostor 0.54-0.59, proposed 0.39; three
espeak-ng voices: genuine 0.24-0.41, impostor 0.63-0.87, proposed 0.52 (TAR 1, FAR 0
on the unseen seed for both).
"""

from __future__ import annotations

import math
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from aima.analyzers.registry import AnalyzerRegistry
from aima.core.errors import AimaError, InvalidInput, PayloadTooLarge
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.core.settings import DecodeSettings, IdentitySettings, MediaLimits
from aima.identity.calibration import builtin_calibration, calibration_for, load_stored
from aima.media.inspect import inspect_media
from aima.media.types import MediaKind
from aima.pipeline.oneshot import analyze_file
from aima.security import audit
from aima.store.db import Database
from aima.store.models import StoredCalibration

KINDS = {"faces": ("face", "faces"), "voices": ("voice", "speakers")}
MAX_FILES = 2000
HIST_BINS = 20


@dataclass(slots=True)
class Sample:
    identity: str
    name: str
    embedding: np.ndarray[Any, Any]


@dataclass(slots=True)
class CalibrationReport:
    kind: str
    model_id: str
    target_far: float
    threshold: float
    scale: float
    tar: float
    far: float
    current_threshold: float
    current_tar: float
    current_far: float
    identities: int
    samples: int
    genuine_pairs: int
    impostor_pairs: int
    far_resolution: float
    genuine_range: list[float]
    impostor_range: list[float]
    histogram: dict[str, list[float] | list[int]]
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def labelled_files(root: Path, display: str | None = None) -> dict[str, list[Path]]:
    """``root/<identity>/<file>``: regular files only (no symlinks), hidden names ignored.

    ``display`` is what errors call the set (an upload's temporary path means nothing to
    its sender and should not be shown to it).
    """
    where = display or str(root)
    if not root.is_dir():
        raise InvalidInput(f"{where}: not a directory of identity folders")
    out: dict[str, list[Path]] = {}
    stray: list[str] = []
    for sub in sorted(root.iterdir()):
        if sub.name.startswith("."):
            continue
        if sub.is_symlink() or not sub.is_dir():
            stray.append(sub.name)
            continue
        files = [
            f
            for f in sorted(sub.iterdir())
            if not f.name.startswith(".") and f.is_file() and not f.is_symlink()
        ]
        if files:
            out[sub.name] = files
    if stray:
        raise InvalidInput(
            f"{where}: expected only one sub-folder per identity; not folders: {stray[:5]}"
        )
    total = sum(len(v) for v in out.values())
    if total > MAX_FILES:
        raise InvalidInput(f"{where}: {total} files; at most {MAX_FILES} per calibration")
    if len(out) < 2:
        raise InvalidInput(
            f"{where}: needs at least two identity folders with files, found {len(out)}"
        )
    if all(len(v) < 2 for v in out.values()):
        raise InvalidInput(f"{where}: needs at least one identity with two or more files")
    return out


def best_face(result: dict[str, Any]) -> list[float] | None:
    """The embedding of the largest, most confident face of a ``faces`` result."""
    faces = [f for f in result.get("faces", []) if f.get("embedding")]
    if not faces:
        return None
    best = max(
        faces,
        key=lambda f: float((f.get("quality") or {}).get("size_px", 0)) * f["confidence"],
    )
    return [float(v) for v in best["embedding"]]


def main_speaker(result: dict[str, Any]) -> list[float] | None:
    """The embedding of the speaker with the most speech in a ``speakers`` result."""
    speakers = [sp for sp in result.get("speakers", []) if any(sp.get("embedding") or [])]
    if not speakers:
        return None
    best = max(speakers, key=lambda sp: float(sp.get("total_s") or 0.0))
    return [float(v) for v in best["embedding"]]


def embed_files(
    kind: str,
    files: dict[str, list[Path]],
    registry: AnalyzerRegistry,
    limits: MediaLimits,
    decode: DecodeSettings,
    progress: ProgressHook = no_progress,
) -> tuple[str, list[Sample], list[str]]:
    """(model id, one sample per usable file, files skipped with the reason)."""
    emb_kind, analyzer = KINDS[kind]
    samples: list[Sample] = []
    skipped: list[str] = []
    rejected: list[str] = []
    model_id = ""
    total = sum(len(v) for v in files.values())
    done = 0
    for identity, paths in files.items():
        for path in paths:
            progress(Progress("calibrate", done, total, f"{identity}/{path.name}"))
            done += 1
            label = f"{identity}/{path.name}"
            try:
                info = inspect_media(path, limits, display_name=label)
            except AimaError as exc:
                rejected.append(f"{label}: {exc}")
                continue
            if emb_kind == "face" and info.kind is not MediaKind.IMAGE:
                rejected.append(f"{label}: face calibration takes photos, not {info.kind}")
                continue
            if emb_kind == "voice" and info.audio_codec is None:
                rejected.append(f"{label}: voice calibration takes clips with audio")
                continue
            result = analyze_file(path, info, registry, [analyzer], decode)[analyzer]
            model_id = str(result.get("model_id") or result.get("model") or model_id)
            vec = best_face(result) if emb_kind == "face" else main_speaker(result)
            if vec is None:
                skipped.append(f"{label}: no {'face' if emb_kind == 'face' else 'speech'} found")
                continue
            arr = np.asarray(vec, dtype=np.float64)
            samples.append(Sample(identity, label, arr / (np.linalg.norm(arr) or 1.0)))
    progress(Progress("calibrate", total, total, "embedded"))
    if rejected:
        raise InvalidInput(
            f"{len(rejected)} file(s) are not usable media: " + "; ".join(rejected[:5])
        )
    return model_id, samples, skipped


def pair_distances(samples: Sequence[Sample]) -> tuple[list[float], list[float]]:
    """(genuine, impostor) L2 distances between all pairs of normalised embeddings."""
    genuine: list[float] = []
    impostor: list[float] = []
    for a, b in combinations(samples, 2):
        d = float(np.sqrt(max(0.0, 2.0 - 2.0 * float(np.dot(a.embedding, b.embedding)))))
        (genuine if a.identity == b.identity else impostor).append(d)
    return genuine, impostor


def rates(genuine: Sequence[float], impostor: Sequence[float], t: float) -> tuple[float, float]:
    """(TAR, FAR) at threshold ``t``: a pair matches when its distance is at most ``t``."""
    tar = sum(d <= t for d in genuine) / len(genuine) if genuine else 0.0
    far = sum(d <= t for d in impostor) / len(impostor) if impostor else 0.0
    return round(tar, 4), round(far, 4)


def propose_threshold(genuine: Sequence[float], impostor: Sequence[float], target: float) -> float:
    """The threshold at ``target`` FAR, centred in the gap at the boundary (module doc)."""
    imp = sorted(impostor)
    allowed = math.floor(target * len(imp) + 1e-9)  # impostor pairs allowed under it
    if allowed >= len(imp):
        return round(imp[-1], 4)
    upper = imp[allowed]
    lower_candidates = [d for d in [*genuine, *imp[:allowed]] if d < upper]
    lower = max(lower_candidates) if lower_candidates else 0.0
    return round((lower + upper) / 2.0, 4)


def histogram(genuine: Sequence[float], impostor: Sequence[float]) -> dict[str, Any]:
    top = max([*genuine, *impostor, 1e-6])
    edges = np.linspace(0.0, top * 1.0001, HIST_BINS + 1)
    return {
        "edges": [round(float(e), 4) for e in edges],
        "genuine": [int(c) for c in np.histogram(genuine, bins=edges)[0]],
        "impostor": [int(c) for c in np.histogram(impostor, bins=edges)[0]],
    }


def measure(
    kind: str,
    model_id: str,
    samples: Sequence[Sample],
    target_far: float,
    settings: IdentitySettings | None = None,
    skipped: Sequence[str] = (),
) -> CalibrationReport:
    """The report for one labelled set: proposed and current thresholds with TAR/FAR."""
    emb_kind = KINDS[kind][0]
    if not 0 < target_far < 1:
        raise InvalidInput(f"target FAR must be between 0 and 1, not {target_far}")
    ids = {s.identity for s in samples}
    genuine, impostor = pair_distances(samples)
    if len(ids) < 2 or not genuine:
        raise InvalidInput(
            f"after analysis {len(samples)} usable file(s) of {len(ids)} identities remain: "
            "calibration needs two identities and one with two usable files "
            f"(skipped: {list(skipped)[:5]})"
        )
    threshold = propose_threshold(genuine, impostor, target_far)
    current = calibration_for(emb_kind, model_id, settings)
    tar, far = rates(genuine, impostor, threshold)
    cur_tar, cur_far = rates(genuine, impostor, current.max_distance)
    return CalibrationReport(
        kind=emb_kind,
        model_id=model_id,
        target_far=target_far,
        threshold=threshold,
        scale=builtin_calibration(emb_kind, model_id).scale,
        tar=tar,
        far=far,
        current_threshold=round(current.max_distance, 4),
        current_tar=cur_tar,
        current_far=cur_far,
        identities=len(ids),
        samples=len(samples),
        genuine_pairs=len(genuine),
        impostor_pairs=len(impostor),
        far_resolution=round(1.0 / len(impostor), 6),
        genuine_range=[round(min(genuine), 4), round(max(genuine), 4)],
        impostor_range=[round(min(impostor), 4), round(max(impostor), 4)],
        histogram=histogram(genuine, impostor),
        skipped=list(skipped),
    )


def calibrate_dir(
    kind: str,
    root: Path,
    registry: AnalyzerRegistry,
    limits: MediaLimits,
    decode: DecodeSettings,
    *,
    target_far: float = 0.001,
    settings: IdentitySettings | None = None,
    progress: ProgressHook = no_progress,
    display: str | None = None,
) -> CalibrationReport:
    """Measure a labelled folder (``kind``: faces | voices); nothing is stored."""
    if kind not in KINDS:
        raise InvalidInput(f"calibrate takes 'faces' or 'voices', not {kind!r}")
    files = labelled_files(root, display)
    model_id, samples, skipped = embed_files(kind, files, registry, limits, decode, progress)
    return measure(kind, model_id, samples, target_far, settings, skipped)


def apply(db: Database, report: CalibrationReport, actor: str) -> None:
    """Store the proposed threshold as the library's for this model, audited, and use it."""
    with db.session() as s:
        row = s.get(StoredCalibration, (report.kind, report.model_id))
        previous = row.max_distance if row is not None else report.current_threshold
        if row is None:
            row = StoredCalibration(kind=report.kind, model_id=report.model_id)
            s.add(row)
        row.max_distance = report.threshold
        row.scale = report.scale
        row.target_far = report.target_far
        row.tar = report.tar
        row.far = report.far
        row.report = report.as_dict()
        row.created_by = actor
        audit.record(
            s,
            actor=actor,
            action="identity.calibrate",
            object_type="model",
            object_id=f"{report.kind}:{report.model_id}",
            details={
                "previous": previous,
                "threshold": report.threshold,
                "target_far": report.target_far,
                "tar": report.tar,
                "far": report.far,
                "samples": report.samples,
                "identities": report.identities,
            },
        )
    load_stored(db)  # this process uses it at once; others on their next load_stored


# --- labelled sets uploaded as a ZIP ---------------------------------------------------

MAX_ZIP_BYTES = 512 * 1024**2
MAX_MEMBER_BYTES = 256 * 1024**2
MAX_UNPACKED_BYTES = 2 * 1024**3


def extract_labelled_zip(archive: Path, dest: Path) -> Path:
    """Unpack ``identity/file`` entries (optionally under one top folder) safely into ``dest``.

    Refused: absolute or ``..`` paths, backslashes, symlinks, encrypted entries, deeper
    nesting, more than ``MAX_FILES`` files, a member over ``MAX_MEMBER_BYTES`` or a total
    over ``MAX_UNPACKED_BYTES`` -- sizes are counted while copying, not trusted from the
    archive's headers (zip bombs lie there). Hidden entries (``__MACOSX``, ``.DS_Store``)
    are skipped. Returns the folder of identity sub-folders.
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"the upload is not a readable ZIP archive: {exc}") from exc
    with zf:
        entries = []
        for info in zf.infolist():
            name = info.filename
            parts = name.rstrip("/").split("/")
            if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
                raise InvalidInput(f"ZIP entry {name!r}: unsafe path")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InvalidInput(f"ZIP entry {name!r}: symbolic links are not accepted")
            if info.flag_bits & 0x1:
                raise InvalidInput(f"ZIP entry {name!r}: encrypted entries are not accepted")
            if info.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in parts):
                continue
            entries.append((info, parts))
        if len(entries) > MAX_FILES:
            raise InvalidInput(f"the ZIP holds {len(entries)} files; at most {MAX_FILES}")
        tops = {parts[0] for _, parts in entries}
        strip = len(tops) == 1 and all(len(parts) == 3 for _, parts in entries)
        total = 0
        for info, parts in entries:
            rel = parts[1:] if strip else parts
            if len(rel) != 2:
                raise InvalidInput(
                    f"ZIP entry {info.filename!r}: expected <identity>/<file> "
                    "(one folder per identity, optionally inside one top folder)"
                )
            target = dest / rel[0] / rel[1]
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with zf.open(info) as src, target.open("wb") as out:
                while block := src.read(1 << 20):
                    written += len(block)
                    total += len(block)
                    if written > MAX_MEMBER_BYTES or total > MAX_UNPACKED_BYTES:
                        raise PayloadTooLarge(
                            f"ZIP entry {info.filename!r}: unpacks past the size limit "
                            f"({MAX_MEMBER_BYTES} bytes a file, {MAX_UNPACKED_BYTES} in all)"
                        )
                    out.write(block)
    return dest
