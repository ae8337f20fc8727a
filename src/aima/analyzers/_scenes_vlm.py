"""What the ``scenes`` analyzer asks the vision-language model, and how it reads the answer.

The prompt (versioned: bump ``version`` with any change of its text) lists the person
boxes the detectors found on the keyframe by number, so the model describes clothing
and actions per box instead of inventing its own people. The answer must validate into
:class:`SceneAnswer` and pass :func:`check` (person numbers that exist, boxes inside
the frame); otherwise the client asks once for a repair and then gives up on that frame.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from aima.llm import Prompt
from aima.llm.prompts import register

DESCRIBE = register(
    Prompt(
        id="scenes.describe",
        version="1",
        system=(
            "You are a careful visual analyst for an evidence-review tool. Describe only what "
            "is visible in the image; never guess identities, names or intentions. Answer with "
            "one JSON object and nothing else."
        ),
        user=(
            "Image size {width}x{height}. Boxes are [x, y, w, h] as fractions of the image "
            "(0..1).\n"
            "Persons found by the detector:\n{persons}\n"
            "Return JSON with these keys:\n"
            '- "description": one or two sentences about the scene;\n'
            '- "objects": notable objects (short nouns);\n'
            '- "persons": for each person number above, {{"id": number, "clothing": [...], '
            '"actions": [...]}};\n'
            '- "logos": readable brand names or logos, {{"text": ..., "box": [x, y, w, h] or '
            "null}};\n"
            '- "restraints": any handcuffs, cable ties, rope, gag, blindfold, chain or tape '
            'used on a person, {{"label": ..., "person": number or null, "box": [x, y, w, h] '
            'or null, "confidence": 0..1}}. Use an empty list when there are none.'
        ),
    )
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PersonAnswer(_Strict):
    id: int
    clothing: list[str] = Field(default_factory=list, max_length=20)
    actions: list[str] = Field(default_factory=list, max_length=20)


class LogoAnswer(_Strict):
    text: str = Field(min_length=1, max_length=200)
    box: list[float] | None = None


class RestraintAnswer(_Strict):
    label: str = Field(min_length=1, max_length=64)
    person: int | None = None
    box: list[float] | None = None
    confidence: float = Field(ge=0, le=1)


class SceneAnswer(_Strict):
    """The JSON the model must return for one keyframe."""

    description: str = Field(min_length=1, max_length=2000)
    objects: list[str] = Field(default_factory=list, max_length=50)
    persons: list[PersonAnswer] = Field(default_factory=list)
    logos: list[LogoAnswer] = Field(default_factory=list, max_length=50)
    restraints: list[RestraintAnswer] = Field(default_factory=list, max_length=50)


def _box_problem(box: list[float] | None, where: str) -> list[str]:
    if box is None:
        return []
    if len(box) != 4:
        return [f"{where}: a box has 4 numbers [x, y, w, h], got {len(box)}"]
    x, y, w, h = box
    if not (0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 and 0 < h <= 1):
        return [f"{where}: box {box} is not inside 0..1"]
    return []


def check(answer: SceneAnswer, person_count: int) -> list[str]:
    """Semantic problems the schema cannot express (sent back in the repair request)."""
    problems: list[str] = []
    valid = set(range(1, person_count + 1))
    for p in answer.persons:
        if p.id not in valid:
            problems.append(f"persons: id {p.id} is not one of the listed persons {sorted(valid)}")
    for i, logo in enumerate(answer.logos):
        problems += _box_problem(logo.box, f"logos[{i}]")
    for i, r in enumerate(answer.restraints):
        if r.person is not None and r.person not in valid:
            problems.append(f"restraints[{i}]: person {r.person} is not a listed person")
        problems += _box_problem(r.box, f"restraints[{i}]")
    return problems


# ------------------------------------------------------------------ labels and text

_RESTRAINT_WORDS = {
    "handcuff": "handcuffs",
    "cuff": "handcuffs",
    "zip tie": "cable ties",
    "zip-tie": "cable ties",
    "cable tie": "cable ties",
    "rope": "rope",
    "cord": "rope",
    "gag": "gag",
    "blindfold": "blindfold",
    "chain": "chain",
    "shackle": "chain",
    "tape": "tape",
}


def restraint_label(text: str) -> str:
    """The model's words mapped onto one vocabulary (unknown words kept, lower-cased)."""
    low = text.strip().lower()
    for word, label in _RESTRAINT_WORDS.items():
        if word in low:
            return label
    return low[:64]


def norm_text(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


@dataclass(frozen=True, slots=True)
class PersonBox:
    ref: str  # "body:0" / "face:1": the i-th box of this keyframe in that result
    box: list[float]


def persons_text(persons: Sequence[PersonBox]) -> str:
    if not persons:
        return "(none detected)"
    return "\n".join(
        f"{i}. box [{', '.join(f'{v:.3f}' for v in p.box)}]" for i, p in enumerate(persons, 1)
    )


def ocr_confirms(logo: LogoAnswer, lines: Sequence[dict[str, Any]], max_distance: float) -> bool:
    """OCR read the same text nearby: same letters (one contains the other) and, when both
    have boxes, centres within ``max_distance`` (fraction of the frame)."""
    want = norm_text(logo.text)
    if len(want) < 2:
        return False
    for line in lines:
        got = norm_text(str(line.get("text", "")))
        if len(got) < 2 or not (want in got or got in want):
            continue
        box = line.get("box")
        if logo.box is None or not box:
            return True
        cx, cy = logo.box[0] + logo.box[2] / 2, logo.box[1] + logo.box[3] / 2
        ox, oy = box[0] + box[2] / 2, box[1] + box[3] / 2
        if ((cx - ox) ** 2 + (cy - oy) ** 2) ** 0.5 <= max_distance:
            return True
    return False


# ------------------------------------------------------------------ pixels


def jpeg(image: Any, max_side: int, quality: int) -> bytes:
    """RGB pixels (H x W x 3) as a JPEG no longer than ``max_side`` on its long side."""
    img = Image.fromarray(image).convert("RGB")
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def evidence_jpeg(image: Any, box: list[float] | None, margin: float, max_side: int) -> bytes:
    """The evidence a reviewer sees: the box with ``margin`` around it, else the frame."""
    if box is None:
        return jpeg(image, max_side, 90)
    h, w = image.shape[:2]
    x, y, bw, bh = box
    mx, my = bw * margin, bh * margin
    x0, y0 = max(0, int((x - mx) * w)), max(0, int((y - my) * h))
    x1, y1 = min(w, int((x + bw + mx) * w) + 1), min(h, int((y + bh + my) * h) + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return jpeg(image, max_side, 90)
    return jpeg(image[y0:y1, x0:x1], max_side, 90)
