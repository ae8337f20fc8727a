"""Real faces and media built at test time for the faces/emotion tests (nothing committed).

Two real people: scikit-image's ``astronaut`` (Eileen Collins, smiling) and OpenCV's
``messi5.jpg`` from the Debian ``opencv-doc`` package (installed by the setup).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

from aima.jobs.states import JobState
from aima.media.ffmpeg import tool_path
from aima.runtime import Runtime
from aima.services.access import cli_principal

MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def messi() -> Image.Image:
    if not MESSI.exists():
        raise FileNotFoundError(
            f"{MESSI} is missing: install the Debian package opencv-doc (make setup does)"
        )
    with Image.open(MESSI) as img:
        return img.convert("RGB")


def background(width: int, height: int) -> Image.Image:
    """A face-free picture: smooth gradient plus a few flat shapes."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    pix = np.stack([90 + 60 * xs / width, 110 + 40 * ys / height, 140 - 30 * xs / width], -1)
    img = Image.fromarray(pix.clip(0, 255).astype(np.uint8))
    img.paste((200, 180, 60), (40, 40, 160, 120))
    img.paste((40, 60, 90), (width - 200, height - 140, width - 60, height - 40))
    return img


def variants(img: Image.Image) -> dict[str, Image.Image]:
    """Augmented copies of one picture: same person, different pixels."""
    w, h = img.size
    return {
        "flip": img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "crop": img.crop((w // 5, 0, w - w // 5, h * 3 // 5)),
        "bright": ImageEnhance.Brightness(img).enhance(1.4),
        "dark": ImageEnhance.Brightness(img).enhance(0.6),
    }


def on_canvas(picture: Image.Image | None, size: tuple[int, int]) -> Image.Image:
    """``picture`` centred on the face-free background (scaled down only if it does not fit)."""
    canvas = background(*size)
    if picture is not None:
        pic = picture.copy()
        pic.thumbnail((size[0] - 40, size[1] - 40))
        canvas.paste(pic, ((size[0] - pic.width) // 2, (size[1] - pic.height) // 2))
    return canvas


def make_video(
    path: Path,
    segments: list[tuple[Image.Image | None, float]],
    *,
    size: tuple[int, int] = (640, 480),
    fps: int = 5,
) -> Path:
    """H.264 video showing each (picture or None, seconds) segment in turn."""
    frames = b"".join(
        on_canvas(pic, size).tobytes() * round(seconds * fps) for pic, seconds in segments
    )
    cmd = [
        tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(fps),
        "-i", "pipe:0", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
        "-pix_fmt", "yuv420p", "-g", str(fps), "-fflags", "+bitexact", "file:" + str(path),
    ]  # fmt: skip
    subprocess.run(cmd, input=frames, check=True, capture_output=True)
    return path


def save(img: Image.Image, path: Path) -> Path:
    img.save(path, quality=95) if path.suffix == ".jpg" else img.save(path)
    return path


def run_job(rt: Runtime, path: Path, analyzers: tuple[str, ...] = ("faces", "emotion")) -> Any:
    """Ingest ``path`` and run one worker pass; returns the finished job."""
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyzers=list(analyzers))
    assert outcome.status == "created" and outcome.job_id, outcome
    assert rt.make_worker("t").run_once()
    job = rt.ledger.get(outcome.job_id)
    assert JobState(job.state).terminal, job.state
    return job


def results(rt: Runtime, job: Any) -> dict[str, Any]:
    """{analyzer: result row} of a job that succeeded."""
    assert job.state == JobState.SUCCEEDED, (job.error, job.outcome)
    return {r.analyzer: r for r in rt.ledger.results(job.id)}


class Runs:
    """Runs each named media through the pipeline once per module and remembers the job."""

    def __init__(self, rt: Runtime, makers: dict[str, Any]) -> None:
        self.rt = rt
        self.makers = makers
        self.jobs: dict[str, Any] = {}

    def job(self, name: str) -> Any:
        if name not in self.jobs:
            self.jobs[name] = run_job(self.rt, self.makers[name]())
        return self.jobs[name]

    def data(self, name: str, analyzer: str) -> dict[str, Any]:
        data: dict[str, Any] = results(self.rt, self.job(name))[analyzer].data
        return data


class FrameSource:
    """Stands in for the pipeline's decoder: hands out fixed frames (direct analyzer tests)."""

    def __init__(self, frames: list[Any]) -> None:
        self._frames = frames

    def frames(self, start_s: float | None, end_s: float | None) -> list[Any]:
        return self._frames


# ------------------------------------------------------------------ stub ONNX sessions


class _Meta:
    def __init__(self, name: str, shape: list[Any]) -> None:
        self.name = name
        self.shape = shape


class StubScrfd:
    """An SCRFD-shaped session (9 outputs, strides 8/16/32, 2 anchors) reporting one face.

    The face is anchor 0 of stride-16 cell (20, 15): centre (320, 240) of the 640x640
    input, box 64 px square, five keypoints of a frontal face, score 0.9.
    """

    def get_inputs(self) -> list[_Meta]:
        return [_Meta("input.1", [1, 3, "?", "?"])]

    def get_outputs(self) -> list[_Meta]:
        return [_Meta(f"o{i}", []) for i in range(9)]

    def run(self, names: Any, feed: dict[str, Any]) -> list[Any]:
        (blob,) = feed.values()
        assert blob.shape == (1, 3, 640, 640) and blob.dtype == np.float32
        scores, boxes, kps = [], [], []
        for stride in (8, 16, 32):
            n = (640 // stride) * (640 // stride) * 2
            s = np.zeros((n, 1), np.float32)
            b = np.ones((n, 4), np.float32)
            k = np.zeros((n, 10), np.float32)
            if stride == 16:
                i = (15 * 40 + 20) * 2
                s[i] = 0.9
                b[i] = 2.0  # 32 px each way
                k[i] = [-0.8, -0.6, 0.8, -0.6, 0.0, 0.2, -0.6, 1.0, 0.6, 1.0]
            scores.append(s)
            boxes.append(b)
            kps.append(k)
        return scores + boxes + kps


class StubArcFace:
    """An ArcFace-shaped session: 512 numbers from the mean colour of the aligned crop."""

    def __init__(self) -> None:
        self.projection = np.random.default_rng(0).normal(size=(3, 512)).astype(np.float32)

    def get_inputs(self) -> list[_Meta]:
        return [_Meta("input.1", ["None", 3, 112, 112])]

    def get_outputs(self) -> list[_Meta]:
        return [_Meta("683", ["None", 512])]

    def run(self, names: Any, feed: dict[str, Any]) -> list[Any]:
        (blob,) = feed.values()
        assert blob.shape[1:] == (3, 112, 112) and blob.dtype == np.float32
        return [blob.mean(axis=(2, 3)) @ self.projection + 1.0]


class StubHSEmotion:
    """An HSEmotion-shaped session (8 logits) that always finds 'happiness' most likely."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, ...]] = []

    def get_inputs(self) -> list[_Meta]:
        return [_Meta("input", ["batch", 3, 224, 224])]

    def get_outputs(self) -> list[_Meta]:
        return [_Meta("output", ["batch", 8])]

    def run(self, names: Any, feed: dict[str, Any]) -> list[Any]:
        blob = feed["input"]
        self.seen.append(tuple(blob.shape))
        logits = np.zeros((blob.shape[0], 8), np.float32)
        logits[:, 4] = 3.0  # Happiness in HSEmotion's 8-class order
        return [logits]


# ------------------------------------------------------------- small and grainy faces

# dlib's HOG box (x0, y0, x1, y1) of each face in its original picture, measured once
FACE_BOXES: dict[str, tuple[int, int, int, int]] = {
    "astronaut": (175, 76, 266, 167),
    "messi": (225, 94, 262, 131),
}


def _picture(name: str) -> Image.Image:
    if name == "astronaut":
        return astronaut()
    if name == "messi":
        return messi()
    from skimage import data  # a face-free picture (coffee, chelsea, rocket, ...)

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def degrade(
    image: np.ndarray[Any, Any],
    *,
    noise: float = 0.0,
    blur: float = 0.0,
    jpeg: int | None = None,
    seed: int = 0,
) -> np.ndarray[Any, Any]:
    """Gaussian blur (sigma px), then Gaussian noise (sigma grey levels), then JPEG at ``jpeg``."""
    import cv2

    pix = np.asarray(image, dtype=np.float32)
    if blur > 0:
        pix = np.asarray(cv2.GaussianBlur(pix, (0, 0), blur), dtype=np.float32)
    if noise > 0:
        pix = pix + np.random.default_rng(seed).normal(0.0, noise, pix.shape).astype(np.float32)
    out = np.clip(np.rint(pix), 0, 255).astype(np.uint8)
    if jpeg is not None:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=jpeg)
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


def small_face_scene(
    who: str,
    *,
    face_px: int,
    centre: tuple[int, int],
    size: tuple[int, int] = (1280, 720),
) -> tuple[np.ndarray[Any, Any], tuple[float, float, float, float] | None]:
    """``who``'s picture scaled so the face is ``face_px`` wide with its centre at ``centre``,
    on the face-free background; returns the RGB frame and the face box (x0, y0, x1, y1),
    or ``None`` for a face-free picture (placed with its centre at ``centre``, 4x ``face_px``
    wide)."""
    pic = _picture(who)
    canvas = background(*size)
    box = FACE_BOXES.get(who)
    if box is None:
        k = 4 * face_px / pic.width
        pic = pic.resize((round(pic.width * k), round(pic.height * k)), Image.Resampling.LANCZOS)
        canvas.paste(pic, (centre[0] - pic.width // 2, centre[1] - pic.height // 2))
        return np.asarray(canvas), None
    x0, y0, x1, _ = box
    k = face_px / (x1 - x0)
    pic = pic.resize((round(pic.width * k), round(pic.height * k)), Image.Resampling.LANCZOS)
    left = round(centre[0] - (x0 * k + face_px / 2))
    top = round(centre[1] - (y0 * k + face_px / 2))
    canvas.paste(pic, (left, top))
    fx, fy = left + x0 * k, top + y0 * k
    return np.asarray(canvas), (fx, fy, fx + face_px, fy + face_px)
