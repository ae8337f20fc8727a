"""Decide what an untrusted file is from its first bytes (magic numbers), never from its name.

Only an allow-list of image, video and audio formats passes. Everything else (text,
playlists, ffmpeg concat scripts, HTML, archives, executables, empty files) is rejected
here, before any decoder sees the file. The kind given for a container (MP4, MKV...) is
provisional: :func:`aima.media.inspect.inspect_media` decides it from the streams found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aima.core.errors import MediaRejected
from aima.media.types import MediaKind

HEAD_BYTES = 4096

ALLOWED_FORMATS = (
    "images: JPEG, PNG, WebP, GIF, TIFF, HEIC/HEIF; "
    "video: MP4, MOV, MKV, WebM, AVI; "
    "audio: WAV, MP3, FLAC, OGG/Opus, M4A"
)


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the first bytes say. ``ffmpeg_format`` is the demuxer to force (``None`` for images)."""

    kind: MediaKind
    format: str
    mime: str
    ffmpeg_format: str | None


_IMAGE = MediaKind.IMAGE
_VIDEO = MediaKind.VIDEO
_AUDIO = MediaKind.AUDIO

JPEG = Sniffed(_IMAGE, "jpeg", "image/jpeg", None)
PNG = Sniffed(_IMAGE, "png", "image/png", None)
GIF = Sniffed(_IMAGE, "gif", "image/gif", None)
WEBP = Sniffed(_IMAGE, "webp", "image/webp", None)
TIFF = Sniffed(_IMAGE, "tiff", "image/tiff", None)
HEIC = Sniffed(_IMAGE, "heic", "image/heic", None)
HEIF = Sniffed(_IMAGE, "heif", "image/heif", None)
MP4 = Sniffed(_VIDEO, "mp4", "video/mp4", "mov")
MOV = Sniffed(_VIDEO, "mov", "video/quicktime", "mov")
M4A = Sniffed(_AUDIO, "m4a", "audio/mp4", "mov")
MKV = Sniffed(_VIDEO, "mkv", "video/x-matroska", "matroska")
WEBM = Sniffed(_VIDEO, "webm", "video/webm", "matroska")
AVI = Sniffed(_VIDEO, "avi", "video/x-msvideo", "avi")
WAV = Sniffed(_AUDIO, "wav", "audio/wav", "wav")
MP3 = Sniffed(_AUDIO, "mp3", "audio/mpeg", "mp3")
FLAC = Sniffed(_AUDIO, "flac", "audio/flac", "flac")
OGG = Sniffed(_AUDIO, "ogg", "audio/ogg", "ogg")
OPUS = Sniffed(_AUDIO, "opus", "audio/ogg", "ogg")

# ISO base media (ftyp) brands. HEIF first: an image brand anywhere in the list wins over
# "mp41"/"iso8" compatibility brands that HEIC writers also list.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_MOV_BRANDS = {b"qt  "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
    b"mp41", b"mp42", b"mp71", b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"MSNV",
    b"XAVC", b"NDAS", b"f4v ", b"mmp4", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"3ge6", b"3gg6",
}  # fmt: skip
# QuickTime files written before ftyp existed start directly with one of these atoms.
_LEGACY_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def sniff(path: Path, *, display_name: str | None = None) -> Sniffed:
    """Identify ``path`` by content. Raises :class:`MediaRejected` for anything not allowed."""
    name = display_name or path.name
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
            if head.startswith(b"ID3") and len(head) >= 10:
                # An ID3v2 tag can prefix MP3 and FLAC alike: look at what follows it.
                fh.seek(_id3_size(head))
                after = fh.read(16)
                if after.startswith(b"fLaC"):
                    return FLAC
                return MP3
    except OSError as exc:
        raise MediaRejected(
            f"{name}: the file could not be read ({exc.strerror or exc}); upload it again.",
            details={"file": name},
        ) from exc
    found = sniff_bytes(head)
    if found is None:
        what = describe_unknown(head)
        raise MediaRejected(
            f"{name}: {what}, not an accepted media file. Accepted formats are {ALLOWED_FORMATS}.",
            details={"file": name, "detected": what, "allowed": ALLOWED_FORMATS},
        )
    return found


def sniff_bytes(head: bytes) -> Sniffed | None:
    """Match the first bytes of a file against the allow-list; ``None`` when nothing matches."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[:4] in (b"RIFF", b"RF64") and len(head) >= 12:
        return {b"WEBP": WEBP, b"AVI ": AVI, b"WAVE": WAV}.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[4:8] in _LEGACY_QT_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return MOV
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _sniff_ebml(head)
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OPUS if b"OpusHead" in head[:128] else OGG
    if head.startswith(b"ID3") or _is_mpeg_audio_sync(head):
        return MP3
    return None


def _sniff_ftyp(head: bytes) -> Sniffed | None:
    box_size = int.from_bytes(head[:4], "big")
    end = min(box_size, len(head)) if box_size >= 16 else 16
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    brands = compatible | {major}
    if major in _AVIF_BRANDS:
        return None
    if brands & _HEIC_BRANDS:
        return HEIC
    if major in _HEIF_BRANDS or (
        not brands & (_MP4_BRANDS | _MOV_BRANDS) and brands & _HEIF_BRANDS
    ):
        return HEIF
    if major in _M4A_BRANDS:
        return M4A
    if major in _MOV_BRANDS:
        return MOV
    if brands & _MP4_BRANDS:
        return MP4
    if brands & _MOV_BRANDS:
        return MOV
    return None


def _sniff_ebml(head: bytes) -> Sniffed | None:
    # DocType element (ID 0x4282) sits in the EBML header; its value is "webm" or "matroska".
    at = head.find(b"\x42\x82", 4, 64)
    if at < 0:
        return None
    doctype = head[at + 3 : at + 3 + 8]
    if doctype.startswith(b"webm"):
        return WEBM
    if doctype.startswith(b"matroska"):
        return MKV
    return None


def _is_mpeg_audio_sync(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0x3
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x3
    # layer 0 is ADTS AAC, version 1 is reserved; bitrate 15 and rate 3 are invalid.
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3


def _id3_size(head: bytes) -> int:
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


_TEXT_SIGNS: tuple[tuple[bytes, str], ...] = (
    (b"#EXTM3U", "an M3U/HLS playlist"),
    (b"#EXTINF", "an M3U/HLS playlist"),
    (b"ffconcat", "an ffmpeg concat script"),
    (b"file ", "an ffmpeg concat script"),
    (b"[playlist]", "a PLS playlist"),
    (b"<?xml", "an XML document"),
    (b"<svg", "an SVG drawing"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"{", "a JSON document"),
)
# Unambiguous magic numbers, checked before the text heuristic.
_BINARY_SIGNS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "a Linux executable"),
)
# Short signatures that plain text can also start with, checked after it.
_WEAK_BINARY_SIGNS: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable"),
    (b"BM", "a BMP image (not accepted)"),
    (b"8BPS", "a Photoshop image (not accepted)"),
    (b"\x00\x00\x01\xba", "an MPEG program stream (not accepted)"),
    (b"\x47", "an MPEG transport stream (not accepted)"),
    (b"FLV", "a Flash video (not accepted)"),
)


def describe_unknown(head: bytes) -> str:
    """A short human phrase for a rejected file's content ("file starts like ...")."""
    if not head:
        return "the file is empty"
    if head[4:8] == b"ftyp" and head[8:12] in _AVIF_BRANDS:
        return "file starts like an AVIF image (not accepted)"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "file starts like raw AAC audio (ADTS; not accepted, use M4A)"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = stripped[:64].lower()
    for sign, label in _TEXT_SIGNS:
        if lowered.startswith(sign.lower()):
            return f"file starts like a text/playlist file ({label})"
    for sign, label in _BINARY_SIGNS:
        if head.startswith(sign):
            return f"file starts like {label}"
    if _looks_like_text(head):
        return "file starts like a text file"
    for sign, label in _WEAK_BINARY_SIGNS:
        if head.startswith(sign):
            return f"file starts like {label}"
    return f"file content is not a recognised media format (first bytes {head[:8].hex(' ')})"


def _looks_like_text(head: bytes) -> bool:
    sample = head[:1024]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return False
        text = sample[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
    return bool(text) and printable / len(text) > 0.95
