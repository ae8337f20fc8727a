"""Still images through Pillow, guarded: allow-listed decoder, pixel limit before decoding, EXIF.

Pillow reads the image size from the header when a file is opened; the pixel limit is
checked then, before any pixel is decoded, so a small file whose header claims a huge
canvas (a decompression bomb) is rejected cheaply.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from aima.core.errors import MediaRejected
from aima.media.decode_budget import DecodeBudget, decoded_bytes
from aima.media.sniff import Sniffed

# AIMA format name -> the one Pillow decoder allowed to open it.
PILLOW_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "tiff": "TIFF",
    "heic": "HEIF",
    "heif": "HEIF",
}

_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
# What Pillow's EXIF parser raises on malformed data (UnicodeDecodeError is a ValueError).
_EXIF_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, SyntaxError, struct.error)


@cache
def heif_supported() -> bool:
    """Register the HEIC/HEIF decoder with Pillow if pillow-heif is installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


@contextmanager
def open_image(
    path: Path, image_format: str, *, max_pixels: int, display_name: str
) -> Iterator[Image.Image]:
    """Open an image with only its own decoder, refusing more than ``max_pixels`` before decoding.

    The image is *not* decoded yet; call ``load()`` (inside the ``with``) to do that.
    """
    pillow_format = PILLOW_FORMATS.get(image_format)
    if pillow_format is None:
        raise MediaRejected(
            f"{display_name}: {image_format} is not an accepted image format.",
            details={"file": display_name},
        )
    label = image_format.upper()
    if pillow_format == "HEIF" and not heif_supported():
        raise MediaRejected(
            f"{display_name}: HEIC/HEIF images need the pillow-heif package, which is not "
            "installed; install it (`make setup`) or convert the image to JPEG.",
            details={"file": display_name},
        )
    # Pillow's own bomb guard stays on as a backstop but never below AIMA's limit.
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and current < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Corrupt EXIF", UserWarning)  # read_exif omits it
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path, formats=[pillow_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(display_name, label, None, max_pixels, str(exc)) from exc
    except Exception as exc:  # any decoder failure on hostile input is a rejection
        raise MediaRejected(
            f"{display_name}: the {label} header cannot be read ({exc}); the file is corrupt or "
            f"not really a {label}. Re-export it and upload it again.",
            details={"file": display_name, "error": str(exc)},
        ) from exc
    with img:
        width, height = img.size
        if width <= 0 or height <= 0:
            raise MediaRejected(
                f"{display_name}: the {label} claims an empty {width}x{height} canvas.",
                details={"file": display_name},
            )
        if width * height > max_pixels:
            raise _too_many_pixels(display_name, label, (width, height), max_pixels)
        yield img


def load_image(img: Image.Image, *, label: str, display_name: str) -> None:
    """Decode the (first frame's) pixels; truncated or corrupt data becomes MediaRejected."""
    try:
        img.load()
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, zlib errors...
        raise MediaRejected(
            f"{display_name}: corrupt or truncated {label} ({exc}). "
            "Re-export the image or upload the complete original.",
            details={"file": display_name, "error": str(exc)},
        ) from exc


def inspect_image(
    path: Path,
    sniffed: Sniffed,
    *,
    size: int,
    max_pixels: int,
    display_name: str,
    budget: DecodeBudget | None = None,
) -> dict[str, Any]:
    """MediaInfo fields of an image, after a full decode of its first frame.

    The decode reserves its size from ``budget`` first (bounded memory under concurrency).
    """
    label = sniffed.format.upper()
    with open_image(path, sniffed.format, max_pixels=max_pixels, display_name=display_name) as img:
        if budget is None:
            load_image(img, label=label, display_name=display_name)
        else:
            with budget.reserve(decoded_bytes(*img.size, img.mode)):
                load_image(img, label=label, display_name=display_name)
        width, height = img.size
        frames = int(getattr(img, "n_frames", 1) or 1)
        exif = read_exif(img)
        if exif.get("orientation") in (5, 6, 7, 8):  # stored sideways: report the upright size
            width, height = height, width
        return {
            "kind": sniffed.kind,
            "format": sniffed.format,
            "mime": sniffed.mime,
            "size": size,
            "container": img.format,
            "width": width,
            "height": height,
            "streams": 1,
            "exif": exif | ({"frames": frames} if frames > 1 else {}),
        }


def read_exif(img: Image.Image) -> dict[str, Any]:
    """Capture time, camera and orientation from EXIF; ``{}`` when absent, never raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns "Corrupt EXIF data": we omit it instead
        try:
            return _read_exif(img)
        except _EXIF_ERRORS:  # bad EXIF is common and harmless: report nothing
            return {}


def _read_exif(img: Image.Image) -> dict[str, Any]:
    exif = img.getexif()
    if not exif:
        return {}
    out: dict[str, Any] = {
        "capture_time": None,
        "camera_make": None,
        "camera_model": None,
        "gps_present": False,
        "orientation": None,
    }
    try:
        exif_ifd = exif.get_ifd(_IFD_EXIF)
        out["capture_time"] = _exif_time(
            exif_ifd.get(_TAG_DATETIME_ORIGINAL) or exif.get(_TAG_DATETIME),
            exif_ifd.get(_TAG_OFFSET_TIME_ORIGINAL),
        )
    except _EXIF_ERRORS:  # a broken sub-IFD only loses the time
        out["capture_time"] = None
    out["camera_make"] = _exif_text(exif.get(_TAG_MAKE))
    out["camera_model"] = _exif_text(exif.get(_TAG_MODEL))
    try:
        out["gps_present"] = bool(exif.get_ifd(_IFD_GPS))
    except _EXIF_ERRORS:  # unreadable GPS block: treat as absent
        out["gps_present"] = False
    orientation = exif.get(_TAG_ORIENTATION)
    out["orientation"] = (
        orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None
    )
    return out


def _exif_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text[:200] or None


def _exif_time(value: object, offset: object) -> str | None:
    text = _exif_text(value)
    if text is None:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = moment.isoformat()
    tz = _exif_text(offset)
    if tz and len(tz) == 6 and tz[0] in "+-" and tz[3] == ":":
        iso += tz
    return iso


def to_rgb(img: Image.Image, *, apply_orientation: bool = True) -> Image.Image:
    """The image upright (EXIF orientation applied) in RGB; transparency goes onto white."""
    if apply_orientation:
        img = ImageOps.exif_transpose(img)
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def _too_many_pixels(
    name: str, label: str, size: tuple[int, int] | None, max_pixels: int, pillow: str = ""
) -> MediaRejected:
    claimed = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size else "a huge canvas"
    if pillow:
        claimed += f" (Pillow: {pillow})"
    return MediaRejected(
        f"{name}: the {label} header claims {claimed}, over the limit of {max_pixels:,} pixels "
        "(possible decompression bomb); it was not decoded. Downscale the image, or raise "
        "AIMA_LIMITS__MAX_PIXELS if it is genuine.",
        details={"file": name, "max_pixels": max_pixels, "size": list(size) if size else None},
    )
