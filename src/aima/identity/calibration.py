"""Per-model thresholds and calibrated scores for face and voice embeddings.

Every embedding is L2-normalised and compared by L2 distance ``d`` (``d**2 = 2 - 2 cos``).
For each model we keep the distance at which two embeddings stop being the same
identity (``max_distance``) and turn a distance into a score in [0, 1] with a logistic
curve centred there: ``score = 1 / (1 + exp((d - max_distance) / scale))``. A score of
0.5 is the clustering threshold; 0.9 is "clearly the same" for that model. Scores of
different models are comparable in meaning, distances are not.

Measured here (see the analyzers' docstrings and ``tests/identity``):

* dlib ResNet (128-d, the offline default): same person 0.02-0.18 (flips, crops,
  lighting, scale of one photo), two different people 0.54-0.59. dlib's documented
  0.6 on raw descriptors is 0.41 on normalised ones; scale 0.04 puts variants of one
  face above 0.99 and the two test people below 0.05.
* ArcFace r50 (512-d, when InsightFace weights are present): the published cosine
  threshold ~0.4 is d ~1.1; scale 0.08.
* Resemblyzer (256-d voice, one speaker's mean over their 1.5 s windows in one media),
  measured on the generated library (``tests.mediagen.library``: three espeak-ng voices,
  3 s of speech per media): one voice in different media 0.38-0.52, different voices
  0.69-0.93 (closest pair: two male voices). 0.60 (cos 0.82) with scale 0.05. Similar
  espeak male voices can come closer than that (cos 0.94 measured for some pairs): a
  threshold alone cannot separate them, the face link or a correction must.

Thresholds measured on the user's own labelled data (``aima calibrate``, see
``aima.services.calibrate``) are stored in the ``calibrations`` table and win over the
settings override and this table. They are read into a per-process snapshot
(``load_stored``) rather than queried per call: ``calibration_for`` runs while the
identity writer holds the database write lock, where a second session would wait on
itself. The snapshot is refreshed when a process starts (the runtime), when a
calibration is applied, and by ``load_stored`` wherever a long-lived process wants to
see calibrations applied by another one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select

from aima.core.settings import IdentitySettings
from aima.store.db import Database
from aima.store.models import StoredCalibration


@dataclass(frozen=True, slots=True)
class Calibration:
    kind: str
    model: str
    max_distance: float
    scale: float

    def score(self, distance: float) -> float:
        z = (distance - self.max_distance) / self.scale
        if z > 60:
            return 0.0
        return round(1.0 / (1.0 + math.exp(z)), 4)

    def distance_for(self, score: float) -> float:
        """The largest distance that still scores ``score`` (for index range queries)."""
        score = min(max(score, 1e-6), 1 - 1e-6)
        return self.max_distance + self.scale * math.log(1.0 / score - 1.0)


# (kind, model id prefix) -> (max_distance, scale); the first matching prefix wins.
KNOWN: list[tuple[str, str, float, float]] = [
    ("face", "dlib", 0.41, 0.04),
    ("face", "insightface", 1.10, 0.08),
    ("voice", "resemblyzer", 0.60, 0.05),
]
DEFAULTS = {"face": (0.5, 0.05), "voice": (0.60, 0.05)}

# (kind, model id) -> (max_distance, scale) from the calibrations table; see load_stored.
_stored: dict[tuple[str, str], tuple[float, float]] = {}


def use_stored(table: dict[tuple[str, str], tuple[float, float]]) -> None:
    """Replace the snapshot of stored calibrations (whole, so removed rows go too)."""
    global _stored
    _stored = dict(table)


def load_stored(db: Database) -> dict[tuple[str, str], tuple[float, float]]:
    """Read every stored calibration into this process's snapshot; returns it."""
    with db.session() as s:
        rows = s.execute(
            select(
                StoredCalibration.kind,
                StoredCalibration.model_id,
                StoredCalibration.max_distance,
                StoredCalibration.scale,
            )
        ).all()
    table = {(k, m): (float(d), float(sc)) for k, m, d, sc in rows}
    use_stored(table)
    return table


def builtin_calibration(
    kind: str, model_id: str, settings: IdentitySettings | None = None
) -> Calibration:
    """What the threshold would be without a stored calibration (for before/after reports)."""
    max_distance, scale = DEFAULTS.get(kind, (0.5, 0.05))
    for k, prefix, dist, sc in KNOWN:
        if k == kind and model_id.lower().startswith(prefix):
            max_distance, scale = dist, sc
            break
    override = None
    if settings is not None:
        override = settings.face_max_distance if kind == "face" else settings.voice_max_distance
    return Calibration(kind, model_id, override or max_distance, scale)


def calibration_for(
    kind: str,
    model_id: str,
    settings: IdentitySettings | None = None,
    *,
    hint: float | None = None,
) -> Calibration:
    """The calibration of one embedding model; ``hint`` is a result's own match distance.

    Order: the stored calibration of exactly this model (measured on the user's data),
    then the settings override of the kind, then the built-in table / ``hint``.
    """
    stored = _stored.get((kind, model_id))
    if stored is not None:
        return Calibration(kind, model_id, stored[0], stored[1])
    max_distance, scale = DEFAULTS.get(kind, (0.5, 0.05))
    for k, prefix, dist, sc in KNOWN:
        if k == kind and model_id.lower().startswith(prefix):
            max_distance, scale = dist, sc
            break
    else:
        if hint:
            max_distance = hint
    override = None
    if settings is not None:
        override = settings.face_max_distance if kind == "face" else settings.voice_max_distance
    return Calibration(kind, model_id, override or max_distance, scale)
