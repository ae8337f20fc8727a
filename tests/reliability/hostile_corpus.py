"""A corpus of hostile uploads, generated at test time (no binary is committed).

Every file here must be refused by ingest: truncated media, wrong magic numbers, pixel bombs
(headers claiming gigantic canvases in PNG/GIF/WebP/TIFF/JPEG), playlists and concat scripts
that point at a local canary file and at a local HTTP server, MP4/MOV whose samples live in
another file (external data references), SVG, polyglots, zip/gzip bombs, absurd sample counts,
durations and stream counts, and hostile file names. ``build_corpus`` writes them into a
folder and returns one :class:`Hostile` per file; ``canary`` is the path every reference points
at, ``url`` the base URL of a server that must never be contacted.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image

from aima.media.ffmpeg import tool_path
from tests.mediagen import synth
from tests.reliability.mp4_boxes import external_dref, huge_mp4_duration

BOMB_BYTES = 64 << 20  # what each zip/gzip/zTXt bomb entry inflates to


@dataclass(frozen=True, slots=True)
class Hostile:
    path: Path
    category: str
    why: str


_Maker = Callable[[Path, "Refs"], bytes]


@dataclass(frozen=True, slots=True)
class Refs:
    canary: Path  # a local file outside the upload that nothing may read
    url: str  # http://127.0.0.1:<port> of a server that must get no request
    scratch: Path  # real media generated once, to truncate or patch


# --------------------------------------------------------------------------- helpers
def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _image_bytes(fmt: str, seed: int = 1, size: tuple[int, int] = (160, 120)) -> bytes:
    buf = io.BytesIO()
    Image.radial_gradient("L").resize(size).rotate(seed * 7).convert("RGB").save(buf, format=fmt)
    return buf.getvalue()


def _ffmpeg(args: list[str], path: Path) -> None:
    """Trusted generation from lavfi sources and files we wrote ourselves."""
    cmd = [tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y", *args]
    cmd += ["-fflags", "+bitexact", "-map_metadata", "-1", "file:" + str(path.resolve())]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make {path.name}: {done.stderr.decode()[-800:]}")


def _half(data: bytes, fraction: float = 0.5) -> bytes:
    return data[: max(1, int(len(data) * fraction))]


def _wav(*, rate: int, channels: int, bits: int, data_size: int, payload: bytes) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", data_size) + payload
    return b"RIFF" + struct.pack("<I", min(0xFFFFFFFF, 4 + len(body) - 4 + data_size)) + body


# --------------------------------------------------------------------------- the makers
def _truncated(fmt: str) -> _Maker:
    return lambda _p, _r: _half(_image_bytes(fmt, seed=3, size=(320, 240)), 0.4)


def _truncated_av(source: str, fraction: float = 0.5) -> _Maker:
    return lambda _p, r: _half((r.scratch / source).read_bytes(), fraction)


def _text(body: str) -> _Maker:
    return lambda _p, r: body.format(canary=r.canary, url=r.url).encode()


def _png_bomb(_p: Path, _r: Refs) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096, 9))
        + _png_chunk(b"IEND", b"")
    )


@cache
def _deflated_zeros() -> tuple[bytes, int, int, int]:
    """Raw deflate of ``BOMB_BYTES`` zero bytes, computed once: (stream, size, crc32, adler32)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    raw = b"".join(squeeze.compress(block) for _ in range(BOMB_BYTES >> 20)) + squeeze.flush()
    crc, adler = 0, 1
    for _ in range(BOMB_BYTES >> 20):
        crc, adler = zlib.crc32(block, crc), zlib.adler32(block, adler)
    return raw, BOMB_BYTES, crc, adler


def _png_text_bomb(_p: Path, _r: Refs) -> bytes:
    """A 1x1 PNG carrying a zTXt chunk that inflates to ``BOMB_BYTES``."""
    raw, _, _, adler = _deflated_zeros()
    text = b"\x78\xda" + raw + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"zTXt", b"Comment\x00\x00" + text)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _png_chunk(b"IEND", b"")
    )


def _gif_bomb(_p: Path, _r: Refs) -> bytes:
    screen = struct.pack("<HHBBB", 65535, 65535, 0x80, 0, 0) + b"\x00" * 6
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 65535, 65535, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b"\x3b"


def _webp_bomb(_p: Path, _r: Refs) -> bytes:
    side = 16384 - 1  # 24-bit fields hold width-1 / height-1
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += side.to_bytes(3, "little") + side.to_bytes(3, "little")
    alph = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + b"\xff\xff\xff\x0f" + b"\x00"
    body = b"WEBP" + vp8x + alph
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _tiff_bomb(_p: Path, _r: Refs) -> bytes:
    entries = [
        (256, 4, 1, 200000),  # ImageWidth
        (257, 4, 1, 200000),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # no compression
        (262, 3, 1, 1),  # BlackIsZero
        (273, 4, 1, 8 + 2 + 12 * 8 + 4),  # StripOffsets
        (278, 4, 1, 200000),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + b"\x00" * 16


def _jpeg_bomb(_p: Path, _r: Refs) -> bytes:
    real = _image_bytes("JPEG", seed=5, size=(16, 16))
    at = real.find(b"\xff\xc0")  # SOF0: marker, length, precision, height, width
    assert at > 0, "no baseline SOF0 in the generated JPEG"
    return real[: at + 5] + struct.pack(">HH", 65500, 65500) + real[at + 9 :]


def _zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A ZIP archive of already compressed entries: (name, data, method, crc32, size)."""
    local, central = b"", b""
    for name, data, method, crc, size in entries:
        head = struct.pack("<HHHHHIII", 20, 0, method, 0, 0x21, crc, len(data), size)
        central += (
            b"PK\x01\x02"
            + struct.pack("<H", 20)
            + head
            + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, len(local))
            + name.encode()
        )
        local += b"PK\x03\x04" + head + struct.pack("<HH", len(name), 0) + name.encode() + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                      len(local), 0)  # fmt: skip
    return local + central + end


def _zip_bomb(_p: Path, _r: Refs) -> bytes:
    raw, size, crc, _ = _deflated_zeros()
    return _zip([(f"frame{i}.png", raw, 8, crc, size) for i in range(4)])


def _nested_zip(p: Path, r: Refs) -> bytes:
    inner = _zip_bomb(p, r)
    crc = zlib.crc32(inner)
    return _zip([(f"layer{i}.zip", inner, 0, crc, len(inner)) for i in range(4)])


def _gzip_bomb(_p: Path, _r: Refs) -> bytes:
    raw, size, crc, _ = _deflated_zeros()
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + raw + struct.pack("<II", crc, size)


def _svgz(_p: Path, r: Refs) -> bytes:
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><image href="file://{r.canary}"/></svg>'
    return gzip.compress(svg.encode(), mtime=0)


def _bmp(_p: Path, _r: Refs) -> bytes:
    return _image_bytes("BMP")


def _random(prefix: bytes) -> _Maker:
    def make(_p: Path, _r: Refs) -> bytes:
        return prefix + random.Random(20240517).randbytes(64 * 1024)

    return make


def _wav_header(*, rate: int, channels: int, data_size: int, payload: int) -> _Maker:
    return lambda _p, _r: _wav(
        rate=rate, channels=channels, bits=16, data_size=data_size, payload=bytes(payload)
    )


def _flac_huge_total(_p: Path, r: Refs) -> bytes:
    data = bytearray((r.scratch / "a.flac").read_bytes())
    # STREAMINFO (first metadata block, 4+4 bytes in): byte 13 of it holds 4 bits of the
    # 36-bit total sample count, bytes 14-17 the rest
    info = 8
    data[info + 13] = (data[info + 13] & 0xF0) | 0x0F
    data[info + 14 : info + 18] = b"\xff\xff\xff\xff"
    return bytes(data)


def _scratch(name: str, transform: Callable[[bytes], bytes] | None = None) -> _Maker:
    def make(_p: Path, r: Refs) -> bytes:
        data = (r.scratch / name).read_bytes()
        return transform(data) if transform else data

    return make


def _dref(name: str) -> _Maker:
    return lambda _p, r: external_dref((r.scratch / name).read_bytes(), f"file://{r.canary}")


def _polyglot(head: bytes, tail: str) -> _Maker:
    return lambda _p, r: head + tail.format(canary=r.canary, url=r.url).encode()


_HLS_LOCAL = (
    "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{canary}\n"
    "#EXTINF:10.0,\nfile://{canary}\n#EXT-X-ENDLIST\n"
)
_HLS_URL = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{url}/seg0.ts\n#EXT-X-ENDLIST\n"
_HLS_KEY = (
    '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="{url}/key"\n#EXTINF:10.0,\n'
    "file://{canary}\n#EXT-X-ENDLIST\n"
)
_CONCAT_LOCAL = "ffconcat version 1.0\nfile '{canary}'\nfile 'file:{canary}'\n"
_CONCAT_URL = "ffconcat version 1.0\nfile '{url}/part.mp4'\n"
_CONCAT_BARE = "file '{canary}'\nduration 10\n"
_PLS = "[playlist]\nFile1={url}/stream.mp3\nNumberOfEntries=1\nVersion=2\n"
_SDP = "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 9 RTP/AVP 0\n"
_SVG_XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY leak SYSTEM "file://{canary}">]>\n'
    '<svg xmlns="http://www.w3.org/2000/svg"><text>&leak;</text></svg>\n'
)
_SVG_HREF = (
    '\ufeff  <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
    '<image xlink:href="{url}/x.png" width="10" height="10"/></svg>'
)
_HTML = "<!DOCTYPE html><html><body><img src='{url}/pixel.gif'></body></html>\n"

# (file name, category, why it must be refused, maker)
CORPUS: list[tuple[str, str, str, _Maker]] = [
    ("half.jpg", "truncated", "JPEG cut at 40 %", _truncated("JPEG")),
    ("half.png", "truncated", "PNG cut at 40 %", _truncated("PNG")),
    ("half.webp", "truncated", "WebP cut at 40 %", _truncated("WEBP")),
    ("half.gif", "truncated", "GIF cut at 40 %", _truncated("GIF")),
    ("half.tiff", "truncated", "TIFF cut at 40 %", _truncated("TIFF")),
    ("half.mp4", "truncated", "MP4 without its moov", _truncated_av("v.mp4")),
    ("half.mkv", "truncated", "MKV cut in half", _truncated_av("v.mkv")),
    ("half.flac", "truncated", "FLAC cut in half", _truncated_av("a.flac")),
    ("half.wav", "truncated", "WAV cut in half", _truncated_av("a.wav")),
    ("empty.mp4", "wrong magic", "0 bytes", lambda _p, _r: b""),
    ("notes.jpg", "wrong magic", "plain text", _text("meeting notes, nothing to see\n" * 30)),
    ("page.png", "wrong magic", "HTML page", _text(_HTML)),
    ("program.mp3", "wrong magic", "ELF executable", _random(b"\x7fELF\x02\x01\x01\x00")),
    ("doc.jpg", "wrong magic", "PDF document", _text("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n")),
    ("bitmap.jpg", "wrong magic", "BMP (not accepted)", _bmp),
    ("noise.mp4", "wrong magic", "random bytes", _random(b"\x00\x01")),
    ("noise.mp3", "wrong magic", "MPEG frame sync + noise", _random(b"\xff\xfb\x90\x64")),
    ("bomb.png", "pixel bomb", "PNG claiming 60000x60000", _png_bomb),
    ("text-bomb.png", "pixel bomb", "PNG zTXt inflating to 64 MiB", _png_text_bomb),
    ("bomb.gif", "pixel bomb", "GIF claiming 65535x65535", _gif_bomb),
    ("bomb.webp", "pixel bomb", "WebP VP8X claiming 16384x16384", _webp_bomb),
    ("bomb.tiff", "pixel bomb", "TIFF claiming 200000x200000", _tiff_bomb),
    ("bomb.jpg", "pixel bomb", "JPEG SOF claiming 65500x65500", _jpeg_bomb),
    ("local.mp4", "playlist", "HLS -> local canary", _text(_HLS_LOCAL)),
    ("remote.m3u8", "playlist", "HLS -> local HTTP server", _text(_HLS_URL)),
    ("keyed.mp4", "playlist", "HLS with a key URL", _text(_HLS_KEY)),
    ("concat.mp4", "playlist", "ffconcat -> local canary", _text(_CONCAT_LOCAL)),
    ("concat-url.mkv", "playlist", "ffconcat -> HTTP", _text(_CONCAT_URL)),
    ("bare-concat.mov", "playlist", "concat script without header", _text(_CONCAT_BARE)),
    ("radio.mp3", "playlist", "PLS -> HTTP", _text(_PLS)),
    ("stream.mp4", "playlist", "SDP describing an RTP stream", _text(_SDP)),
    ("id3-hls.mp3", "playlist", "ID3 tag + HLS", _polyglot(b"ID3\x03\x00\x00\x00\x00\x00\x00", _HLS_LOCAL)),
    ("ftyp-hls.mp4", "playlist", "ftyp box + HLS", _polyglot(b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom", _HLS_LOCAL)),
    ("extref.mp4", "external ref", "MP4 samples in another file", _dref("v.mp4")),
    ("extref.mov", "external ref", "MOV samples in another file", _dref("v.mov")),
    ("attachment.mkv", "external ref", "MKV with only a subtitle and an attachment", _scratch("att.mkv")),
    ("xxe.jpg", "svg", "SVG with an XXE entity -> canary", _text(_SVG_XXE)),
    ("href.png", "svg", "SVG (BOM, blanks) linking an HTTP image", _text(_SVG_HREF)),
    ("drawing.svg", "svg", "gzipped SVG (svgz)", _svgz),
    ("frames.mp4", "zip bomb", "ZIP: 4 entries of 64 MiB", _zip_bomb),
    ("layers.png", "zip bomb", "nested ZIP (4 x 4 x 64 MiB)", _nested_zip),
    ("zeros.jpg", "zip bomb", "gzip inflating to 64 MiB", _gzip_bomb),
    ("forever.wav", "absurd", "WAV claiming 4 GiB of samples", _wav_header(rate=8000, channels=1, data_size=0xFFFFFFF0, payload=16000)),
    ("slow.wav", "absurd", "WAV at 1 Hz: 28 h", _wav_header(rate=1, channels=1, data_size=200000, payload=200000)),
    ("nochannels.wav", "absurd", "WAV with 0 channels", _wav_header(rate=8000, channels=0, data_size=16000, payload=16000)),
    ("endless.flac", "absurd", "FLAC claiming 2^36 samples", _flac_huge_total),
    ("tracks.mkv", "absurd", "MKV with 24 audio streams", _scratch("streams.mkv")),
    ("ages.mp4", "absurd", "MP4 durations of 2^32 s", _scratch("v.mp4", huge_mp4_duration)),
    ("gifar.gif", "polyglot", "GIF header + JavaScript", _polyglot(b"GIF89a/*", "*/=1;fetch('{url}/x');\n")),
    ("jpeg-html.jpg", "polyglot", "JPEG magic + HTML", _polyglot(b"\xff\xd8\xff\xe0", _HTML)),
    ("png-zip.png", "polyglot", "PNG signature + ZIP", lambda p, r: b"\x89PNG\r\n\x1a\n" + _zip_bomb(p, r)),
    ("riff-hls.wav", "polyglot", "RIFF/WAVE header + HLS", _polyglot(b"RIFF\x00\x01\x00\x00WAVE", _HLS_LOCAL)),
    ("ftyp-html.mp4", "polyglot", "ftyp box + HTML", _polyglot(b"\x00\x00\x00\x10ftypmp42\x00\x00\x00\x00", _HTML)),
    ("-rf.mp4", "hostile name", "option-like name, text", _text("rm -rf /\n" * 20)),
    ("$(touch pwned).jpg", "hostile name", "shell substitution, truncated JPEG", _truncated("JPEG")),
    ("new\nline.png", "hostile name", "newline in the name, PNG bomb", _png_bomb),
    ("concat:x|file:y.mp4", "hostile name", "protocol-like name, ffconcat", _text(_CONCAT_LOCAL)),
    ("x" * 200 + ".mp4", "hostile name", "204-character name, HLS", _text(_HLS_LOCAL)),
    ("cod\u202egpj.exe", "hostile name", "RTL override, ELF", _random(b"\x7fELF\x02\x01\x01\x00")),
]  # fmt: skip


def make_scratch(scratch: Path) -> None:
    """The real media the makers truncate or patch (ffmpeg, deterministic)."""
    scratch.mkdir(parents=True, exist_ok=True)
    for fmt in ("mp4", "mov", "mkv"):
        synth.make_video(scratch / f"v.{fmt}", 2.0, 160, 120, 10, fmt=fmt)
    synth.make_audio(scratch / "a.flac", seconds=2.0, fmt="flac", rate=8000)
    synth.make_audio(scratch / "a.wav", seconds=2.0, fmt="wav", rate=8000)
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=1"]
    maps = [arg for _ in range(24) for arg in ("-map", "0:a")]
    _ffmpeg([*tone, *maps, "-c:a", "pcm_s16le", "-f", "matroska"], scratch / "streams.mkv")
    srt = scratch / "sub.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    font = scratch / "note.ttf"
    font.write_bytes(b"\x00\x01\x00\x00" + b"\x00" * 60)
    _ffmpeg(
        ["-i", f"file:{srt}", "-attach", str(font), "-metadata:s:t", "mimetype=font/ttf",
         "-metadata:s:t", f"filename=../../{Path('canary').name}", "-c:s", "srt", "-f", "matroska"],
        scratch / "att.mkv",
    )  # fmt: skip


def build_corpus(dest: Path, canary: Path, url: str, scratch: Path) -> list[Hostile]:
    """Write every hostile file into ``dest``; returns them in corpus order."""
    make_scratch(scratch)
    refs = Refs(canary=canary, url=url, scratch=scratch)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name, category, why, maker in CORPUS:
        path = dest / name
        path.write_bytes(maker(path, refs))
        out.append(Hostile(path, category, why))
    return out
