"""Content sniffing: the allow-list, decided by bytes, never by the file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from aima.core.errors import MediaRejected
from aima.media import sniff as sn
from aima.media.types import MediaKind


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00" * 32


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", sn.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", sn.PNG),
        (b"GIF89a\x10\x00", sn.GIF),
        (b"GIF87a\x10\x00", sn.GIF),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", sn.WEBP),
        (b"II*\x00\x08\x00\x00\x00", sn.TIFF),
        (b"MM\x00*\x00\x00\x00\x08", sn.TIFF),
        (ftyp(b"heic", b"mif1", b"heic"), sn.HEIC),
        (ftyp(b"mif1", b"mif1", b"heic"), sn.HEIC),
        (ftyp(b"mif1", b"mif1", b"miaf"), sn.HEIF),
        (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), sn.MP4),
        (ftyp(b"mp42", b"mp42", b"isom"), sn.MP4),
        (ftyp(b"qt  ", b"qt  "), sn.MOV),
        (ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), sn.M4A),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat", sn.MOV),
        (
            b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm",
            sn.WEBM,
        ),
        (
            b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x88matroska",
            sn.MKV,
        ),
        (b"RIFF\x10\x00\x00\x00AVI LIST", sn.AVI),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", sn.WAV),
        (b"fLaC\x00\x00\x00\x22", sn.FLAC),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", sn.OGG),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", sn.OPUS),
        (b"\xff\xfb\x90\x64\x00", sn.MP3),
        (b"\xff\xf3\x48\xc4\x00", sn.MP3),
    ],
)
def test_allowed_formats_are_recognised_by_content(head: bytes, expected: sn.Sniffed) -> None:
    assert sn.sniff_bytes(head) == expected


def test_containers_are_provisionally_video_and_forced_to_one_demuxer() -> None:
    assert sn.MP4.kind is MediaKind.VIDEO and sn.MP4.ffmpeg_format == "mov"
    assert sn.M4A.kind is MediaKind.AUDIO and sn.M4A.ffmpeg_format == "mov"
    assert sn.WEBM.ffmpeg_format == sn.MKV.ffmpeg_format == "matroska"
    assert sn.JPEG.ffmpeg_format is None


@pytest.mark.parametrize(
    ("head", "phrase"),
    [
        (b"#EXTM3U\n#EXT-X-VERSION:3\n", "text/playlist file (an M3U/HLS playlist)"),
        (b"\xef\xbb\xbf#EXTM3U\n", "M3U/HLS playlist"),
        (b"ffconcat version 1.0\nfile 'a.mp4'\n", "ffmpeg concat script"),
        (b"<!DOCTYPE html><html></html>", "HTML page"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (b"hello, this is just a note\n", "text file"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP archive"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF document"),
        (b"\x7fELF\x02\x01\x01\x00", "Linux executable"),
        (b"\xff\xf1\x50\x80\x00", "raw AAC"),
        (ftyp(b"avif", b"avif", b"mif1"), "AVIF"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08", "not a recognised media format"),
        (b"", "empty"),
    ],
)
def test_everything_else_is_described(head: bytes, phrase: str) -> None:
    assert sn.sniff_bytes(head) is None
    assert phrase in sn.describe_unknown(head)


def test_sniff_rejects_with_name_detection_and_allowed_list(tmp_path: Path) -> None:
    path = tmp_path / "holiday.mp4"
    path.write_text("#EXTM3U\n#EXTINF:10,\nhttp://example.com/a.ts\n")
    with pytest.raises(MediaRejected) as err:
        sn.sniff(path, display_name="holiday.mp4")
    message = err.value.message
    assert message.startswith("holiday.mp4: file starts like a text/playlist file")
    assert "MP4" in message and "JPEG" in message and "FLAC" in message
    assert err.value.details["detected"].startswith("file starts like")
    assert err.value.status == 415


def test_name_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "photo.mp3"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    assert sn.sniff(path) == sn.PNG


def test_id3_tag_is_skipped_to_find_flac_or_mp3(tmp_path: Path) -> None:
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10  # 10-byte payload
    flac = tmp_path / "a"
    flac.write_bytes(tag + b"fLaC\x00\x00\x00\x22" + b"\x00" * 40)
    mp3 = tmp_path / "b"
    mp3.write_bytes(tag + b"\xff\xfb\x90\x64" + b"\x00" * 40)
    assert sn.sniff(flac) == sn.FLAC
    assert sn.sniff(mp3) == sn.MP3


def test_unreadable_path_is_a_clear_rejection(tmp_path: Path) -> None:
    with pytest.raises(MediaRejected, match="could not be read"):
        sn.sniff(tmp_path / "missing.jpg")
