"""The OCR analyzer: real RapidOCR + Tesseract on text rendered with Pillow at test time.

End-to-end tests go through the real pipeline (ingest -> worker -> ledger); unit tests
cover the span merging, the reading choice and the model selection on plain data.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydantic import ValidationError

from aima.analyzers import _ocr_engines as engines
from aima.analyzers import _ocr_lang as lang_id
from aima.analyzers._ocr_multilang import candidates_for
from aima.analyzers._ocr_text import Reading, choose, distinct_text, guess_language, merge_spans
from aima.analyzers.base import AnalysisContext, Chunk, ChunkData
from aima.analyzers.ocr import Ocr, OcrConfig
from aima.inference.models import ModelMissing, ModelStore
from aima.jobs.states import JobState
from aima.media.ffmpeg import tool_path
from aima.media.types import Frame, MediaInfo, MediaKind
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.mediagen import synth

ENGLISH = "AIMA TEST 42"
GERMAN = "Größe: Übermäßig schöne Straße in München"
LANGS = ["en", "de", "fr", "es", "it", "pt", "nl"]
INTERVAL = 0.5  # keyframe interval of the test video (decode.max_interval_s)
W, H = 1280, 720
BG, FG = (24, 32, 64), (250, 250, 250)

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)


def _font_path() -> str:
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    if shutil.which("fc-match"):
        out = subprocess.run(
            ["fc-match", "-f", "%{file}", "sans:fontformat=TrueType"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if out and Path(out).is_file():
            return out
    pytest.skip("no TrueType font on this machine (install fonts-dejavu-core)")


def cer(hyp: str, ref: str) -> float:
    """Character error rate: Levenshtein distance / reference length."""
    prev = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        cur = [i]
        for j, hc in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc)))
        prev = cur
    return prev[-1] / max(1, len(ref))


def _render(lines: list[tuple[str, int, int, int]]) -> tuple[Image.Image, list[list[float]]]:
    """Text lines (text, x, y, size) on a plain frame; returns it and each line's normalised box."""
    img = Image.new("RGB", (W, H), BG)
    draw = ImageDraw.Draw(img)
    boxes = []
    for text, x, y, size in lines:
        font = ImageFont.truetype(_font_path(), size)
        draw.text((x, y), text, font=font, fill=FG)
        x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font)
        boxes.append([x0 / W, y0 / H, (x1 - x0) / W, (y1 - y0) / H])
    return img, boxes


ENGLISH_AT = (ENGLISH, 120, 140, 56)
GERMAN_AT = (GERMAN, 90, 520, 44)


def _assert_box_near(found: list[float], drawn: list[float]) -> None:
    """The detector's box holds the drawn glyphs' box and is not much larger."""
    fx, fy, fw, fh = found
    dx, dy, dw, dh = drawn
    ix = max(0.0, min(fx + fw, dx + dw) - max(fx, dx))
    iy = max(0.0, min(fy + fh, dy + dh) - max(fy, dy))
    assert ix * iy >= 0.85 * dw * dh, (found, drawn)
    assert fw * fh <= 3.0 * dw * dh, (found, drawn)


@pytest.fixture
def ocr_runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        decode={"max_interval_s": INTERVAL, "duplicate_threshold": 0.0},  # every interval frame
    )
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


def _run(rt: Runtime, path: Path) -> tuple[str, dict[str, Any]]:
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyzers=["ocr"])
    assert outcome.status == "created" and outcome.job_id
    assert rt.make_worker("t").run_once()
    job = rt.ledger.get(outcome.job_id)
    assert job.state == JobState.SUCCEEDED, (job.error, job.outcome)
    (result,) = rt.ledger.results(outcome.job_id)
    assert result.analyzer == "ocr" and result.model_id.startswith("rapidocr-1.4.4/ppocr-v4")
    assert "+tesseract-" in result.model_id  # "de" is configured by default
    return outcome.job_id, result.data


def _make_video(tmp_path: Path) -> tuple[Path, list[list[float]]]:
    """ENGLISH 0-2 s, nothing 2-3 s, GERMAN 3-5 s (1280x720, H.264)."""
    english, en_box = _render([ENGLISH_AT])
    blank, _ = _render([])
    german, de_box = _render([GERMAN_AT])
    inputs: list[str] = []
    for name, img, seconds in (("a", english, 2), ("b", blank, 1), ("c", german, 2)):
        png = tmp_path / f"{name}.png"
        img.save(png)
        inputs += ["-loop", "1", "-framerate", "10", "-t", str(seconds), "-i", str(png)]
    out = tmp_path / "ocr.mp4"
    cmd = [
        tool_path("ffmpeg"), "-hide_banner", "-v", "error", "-y", *inputs,
        "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-r", "10", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return out, [en_box[0], de_box[0]]


def test_video_text_spans_through_the_pipeline(ocr_runtime: Runtime, tmp_path: Path) -> None:
    video, (en_box, de_box) = _make_video(tmp_path)
    job_id, data = _run(ocr_runtime, video)

    spans = data["lines"]
    assert len(spans) == 2, spans  # each text merged into one span, nothing spurious
    en, de = spans
    assert cer(en["text"], ENGLISH) <= 0.05, en
    assert cer(de["text"], GERMAN) <= 0.05, de
    # umlauts and ß survive (PP-OCR alone reads "GroBe: UbermäBig ...")
    assert sorted(c for c in de["text"] if ord(c) > 127) == sorted(
        c for c in GERMAN if ord(c) > 127
    )
    assert (en["language"], de["language"]) == ("en", "de")
    assert abs(en["start"] - 0.0) <= INTERVAL + 1e-6 and abs(en["end"] - 2.0) <= INTERVAL + 1e-6
    assert abs(de["start"] - 3.0) <= INTERVAL + 1e-6 and abs(de["end"] - 5.0) <= INTERVAL + 1e-6
    assert en["frames"] >= 3 and de["frames"] >= 3
    _assert_box_near(en["box"], en_box)
    _assert_box_near(de["box"], de_box)
    assert all(0.5 <= s["confidence"] <= 1.0 for s in spans)
    assert data["text"].splitlines() == [en["text"], de["text"]]

    frames = [f for c in ocr_runtime.ledger.chunks(job_id) for f in c.result["frames"]]
    assert [f["t"] for f in frames] == pytest.approx([i * INTERVAL for i in range(10)])
    blank = [f for f in frames if 2.0 < f["t"] < 3.0]
    assert blank and all(f["lines"] == [] for f in blank)  # nothing read on the blank frame

    # near-identical keyframes were not OCR'd again: their lines are copies
    analyser = ocr_runtime.registry.get("ocr")
    assert isinstance(analyser, Ocr)
    analysed = [f for f in frames if not f["reused"]]
    assert analyser.engine_calls == len(analysed) == data["stats"]["analysed"]
    assert len(analysed) <= 5 and data["stats"]["reused"] == len(frames) - len(analysed)


@pytest.mark.real_model("ocr")
def test_image_lines_boxes_and_languages(ocr_runtime: Runtime, tmp_path: Path) -> None:
    img, (en_box, de_box) = _render([ENGLISH_AT, GERMAN_AT])
    path = tmp_path / "sign.png"
    img.save(path)
    _, data = _run(ocr_runtime, path)
    en, de = data["lines"]
    assert cer(en["text"], ENGLISH) <= 0.05 and cer(de["text"], GERMAN) <= 0.05, data
    assert de["text"] == GERMAN and de["engine"] == "tesseract" and de["language"] == "de"
    assert en["language"] == "en" and (en["start"], en["end"], en["frames"]) == (0.0, 0.0, 1)
    _assert_box_near(en["box"], en_box)
    _assert_box_near(de["box"], de_box)


def test_audio_only_media_is_skipped(ocr_runtime: Runtime, tmp_path: Path) -> None:
    audio = synth.make_audio(tmp_path / "a.wav", seconds=1.0)
    outcome = ocr_runtime.ingest.ingest_file(audio, cli_principal(), analyzers=["ocr"])
    assert outcome.job_id and ocr_runtime.make_worker("t").run_once()
    job = ocr_runtime.ledger.get(outcome.job_id)
    assert job.outcome["ocr"]["status"] == "skipped"
    assert ocr_runtime.ledger.results(outcome.job_id) == []


class _Frames:
    """A decoder stand-in handing out prepared frames."""

    def __init__(self, frames: list[Frame]) -> None:
        self._frames = frames

    def frames(self, start_s: float | None, end_s: float | None) -> list[Frame]:
        return self._frames


def test_reuse_skips_identical_frames_but_not_changed_text(tmp_path: Path) -> None:
    same, _ = _render([("Subtitle number 42", 100, 600, 28)])
    changed, _ = _render([("Subtitle number 43", 100, 600, 28)])
    noisy = np.clip(
        np.asarray(same, np.int16) + np.random.default_rng(0).integers(-6, 7, (H, W, 3)), 0, 255
    ).astype(np.uint8)
    frames = [
        Frame(0.0, np.asarray(same)),
        Frame(0.5, noisy),  # re-encoded look: same picture
        Frame(1.0, np.asarray(changed)),  # one digit differs: must be read again
        Frame(1.5, np.asarray(changed), shot=1),  # new shot: read again
    ]
    analyser = Ocr(OcrConfig(engine="rapidocr"), default_chunk_s=60, models=ModelStore(tmp_path))
    info = MediaInfo(MediaKind.VIDEO, "mp4", "video/mp4", 1, duration_s=2.0)
    ctx = AnalysisContext("m", "j", tmp_path, info, blobs=None)  # type: ignore[arg-type]
    data = ChunkData(Chunk(0, 0.0, 2.0), _Frames(frames))  # type: ignore[arg-type]
    out = analyser.run(ctx, data)["frames"]
    assert [f["reused"] for f in out] == [False, True, False, False]
    assert analyser.engine_calls == 3
    assert out[1]["lines"] == out[0]["lines"] and out[1]["t"] == 0.5
    assert [line["text"] for f in out for line in f["lines"]][-1].endswith("43")


def _line(text: str, box: list[float], conf: float = 0.9) -> dict[str, Any]:
    return {"text": text, "box": box, "confidence": conf, "language": "en", "engine": "rapidocr"}


def test_merge_spans_joins_fuzzy_repeats_at_the_same_place() -> None:
    top, bottom = [0.1, 0.1, 0.3, 0.05], [0.1, 0.8, 0.5, 0.05]
    frames = [
        {"t": 0.0, "lines": [_line("AIMA TEST 42", top), _line("Hello world", bottom)]},
        {"t": 2.0, "lines": [_line("AIMA TEST 4Z", [0.11, 0.1, 0.3, 0.05], 0.6)]},  # misread
        {
            "t": 4.0,
            "lines": [_line("aima test 42", top), _line("Hello world", [0.6, 0.1, 0.3, 0.05])],
        },
        {"t": 6.0, "lines": []},
        {"t": 8.0, "lines": [_line("AIMA TEST 42", top)]},  # back after a gap: a new span
        {"t": 10.0, "lines": [_line("Totally different", top)]},  # same place, other text
    ]
    spans = merge_spans(reversed(frames))  # order comes from t, not from the input
    summary = [(s["text"], s["start"], s["end"], s["frames"]) for s in spans]
    assert summary == [
        ("AIMA TEST 42", 0.0, 4.0, 3),  # the confident majority reading names the span
        ("Hello world", 0.0, 0.0, 1),  # gone on the next keyframe
        ("Hello world", 4.0, 4.0, 1),  # elsewhere on screen: not the same span
        ("AIMA TEST 42", 8.0, 8.0, 1),
        ("Totally different", 10.0, 10.0, 1),
    ]
    assert spans[0]["box"] == top and spans[0]["confidence"] == 0.9
    assert distinct_text(spans) == "AIMA TEST 42\nHello world\nTotally different"


def test_merge_spans_of_one_image_and_of_nothing() -> None:
    assert merge_spans([]) == [] and distinct_text([]) == ""
    (span,) = merge_spans([{"t": 0.0, "lines": [_line("Sign", [0.2, 0.2, 0.1, 0.1])]}])
    assert (span["start"], span["end"], span["frames"]) == (0.0, 0.0, 1)


def test_choose_keeps_tesseract_umlauts_and_rapidocr_elsewhere() -> None:
    rapid = Reading("GroBe: UbermäBig schone StraBe in Munchen", 0.97, "rapidocr")
    tess = Reading(GERMAN, 0.95, "tesseract")
    assert choose(rapid, tess) == Reading(GERMAN, 0.97, "tesseract")
    # same letters, PP-OCR dropped the spaces: Tesseract's spacing
    assert choose(Reading("AIMATEST42", 0.99, "rapidocr"), Reading(ENGLISH, 0.93, "tesseract")) == (
        Reading(ENGLISH, 0.99, "tesseract")
    )
    # Tesseract misreads a letter without diacritics: RapidOCR's text, confirmed confidence
    assert choose(Reading("EXIT 12", 0.8, "rapidocr"), Reading("EX1T 12", 0.9, "tesseract")) == (
        Reading("EXIT 12", 0.9, "rapidocr")
    )
    # disagreement: confidence decides; one missing reading: the other
    assert choose(Reading("Sale", 0.6, "rapidocr"), Reading("xq~", 0.3, "tesseract")).text == "Sale"
    assert choose(None, tess) == tess and choose(rapid, None) == rapid


def test_language_guess() -> None:
    assert guess_language(GERMAN, ["en", "de"]) == "de"
    assert guess_language("Ausgang und Eingang", ["en", "de"]) == "de"
    assert guess_language(ENGLISH, ["en", "de"]) == "en"
    assert guess_language("Café crème", ["en", "fr"]) == "fr"
    assert guess_language("出口", ["en", "zh"]) == "zh"
    assert guess_language("Le musée est fermé le lundi", LANGS) == "fr"
    assert guess_language("¿Dónde está la estación?", LANGS) == "es"
    assert guess_language("Het is één uur", LANGS) == "nl"
    assert guess_language("Exit 12", LANGS) == "en"  # no evidence: the first configured


def test_language_ranking_from_diacritic_free_text_and_decision() -> None:
    # PP-OCR readings have no diacritics: function words still rank the language first
    assert lang_id.rank("Ele nao sabe onde fica a praca", LANGS)[0][0] == "pt"
    assert lang_id.rank("Non so perche e partito", LANGS)[0][0] == "it"
    assert lang_id.rank("Die GroBe der StraBe", LANGS)[0][0] == "de"  # PP-OCR writes ß as B
    ranked, top = lang_id.rank("SALE 50", LANGS)
    assert ranked[:2] == ["en", "de"] and top == 0.0  # no evidence: configured order
    # a line with too little evidence is re-read in every language, others in their top k
    sign = Reading("SALE 50", 0.99, "rapidocr")
    assert candidates_for(sign, LANGS, 2, min_evidence=1.0) == ranked
    sentence = Reading("Ele nao sabe onde fica a praca", 0.99, "rapidocr")
    assert len(candidates_for(sentence, LANGS, 2, min_evidence=1.0)) == 2
    # the crop read as French and as Spanish: French text and confidence win
    readings = {
        "fr": ("Rendez-vous à Marseille à midi", 0.95),
        "es": ("Rendez-vous á Marseille", 0.8),
    }
    choice = lang_id.decide(readings, LANGS)
    assert choice is not None and choice.language == "fr" and 0.5 < choice.confidence <= 1.0
    # equal confidences, no evidence either way: the first configured language
    tie = lang_id.decide({"de": ("AIMA 42", 0.9), "en": ("AIMA 42", 0.9)}, LANGS)
    assert tie is not None and tie.language == "en"
    assert lang_id.decide({"de": ("  ", 0.9)}, LANGS) is None
    # English cannot write the accents it reads as confidently as French writes them: the
    # text two models agree on ("â", "î") is the evidence, not the single top confidence
    sign = {
        "en": ("Cafe creme brulee", 0.97),
        "fr": ("Café crème brûlée", 0.96),
        "it": ("Café crème brûlée", 0.90),
    }
    best = lang_id.decide(sign, LANGS)
    assert best is not None and best.language == "fr"


def test_model_selection_prefers_server_models_when_present(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    mobile = engines.select_models(store, "auto")
    assert (mobile.det, mobile.rec, mobile.label) == (
        engines.DET_MOBILE,
        engines.REC_MOBILE,
        "ppocr-v4",
    )
    with pytest.raises(ModelMissing, match=r"ch_PP-OCRv4_det_server_infer\.onnx"):
        engines.select_models(store, "server")
    for spec in (engines.DET_SERVER, engines.REC_SERVER):
        (tmp_path / spec.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / spec.path).write_bytes(b"onnx")
    server = engines.select_models(store, "auto")
    assert (server.det, server.rec, server.cls) == (
        engines.DET_SERVER,
        engines.REC_SERVER,
        engines.CLS_MOBILE,
    )
    assert server.label == "ppocr-v4-server"
    assert engines.select_models(store, "mobile").det == engines.DET_MOBILE
    analyser = Ocr(OcrConfig(languages=["en"]), default_chunk_s=60, models=store)
    assert analyser.model_id.endswith("/ppocr-v4-server")  # no Tesseract for English alone
    assert all(store.available(s) for s in (engines.DET_MOBILE, engines.CLS_MOBILE))


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="unknown OCR language"):
        OcrConfig(languages=["xx"])
    with pytest.raises(ValidationError):
        OcrConfig(engine="paddle")  # type: ignore[arg-type]
    cfg = OcrConfig(languages=["en", "de", "en"])
    analyser = Ocr(cfg, default_chunk_s=60, models=ModelStore(Path("models")))
    assert cfg.languages == ["en", "de"] and analyser.tesseract_langs == ["deu", "eng"]


def test_without_tesseract_auto_degrades_and_tesseract_engine_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract

    from aima.core.errors import ConfigError

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "no-such-tesseract-binary")
    store = ModelStore(tmp_path)
    auto = Ocr(OcrConfig(), default_chunk_s=60, models=store)
    auto.ensure_loaded()  # RapidOCR alone
    assert auto.model_id == "rapidocr-1.4.4/ppocr-v4"
    ctx = AnalysisContext(
        "m", "j", tmp_path, MediaInfo(MediaKind.IMAGE, "png", "image/png", 1), None
    )  # type: ignore[arg-type]
    (note,) = auto.finalize(ctx, [{"frames": [], "stats": {"analysed": 0}}])["notes"]
    assert "apt-get install tesseract-ocr" in note
    strict = Ocr(OcrConfig(engine="tesseract"), default_chunk_s=60, models=store)
    with pytest.raises(ConfigError, match="tesseract is not installed"):
        strict.ensure_loaded()


# Test sentences: NOT the calibration set of benchmarks/ocr_bench.py (other sentences, fonts
# DejaVuSans/DejaVuSerif instead of the condensed/bold ones, sizes 20-48 instead of 18-44).
MULTILINGUAL = {
    "en": "Welcome to the annual board meeting",
    "de": "Größe und Gewicht der Päckchen prüfen",
    "fr": "Nous arrivons à Marseille demain soir",
    "es": "La reunión empieza mañana a las ocho",
    "it": "Non so perché è partito così presto",
    "pt": "Ele não sabe onde fica a praça",
    "nl": "Er rijdt maar één trein per uur",
}
_DARK, _LIGHT = (20, 24, 36), (240, 238, 230)


def _render_languages(font: str, size: int, *, light_text: bool) -> tuple[Image.Image, list[float]]:
    """One line per language of MULTILINGUAL; returns the frame and each line's centre y."""
    bg, fg = (_DARK, _LIGHT) if light_text else (_LIGHT, _DARK)
    img = Image.new("RGB", (W, H), bg)
    draw = ImageDraw.Draw(img)
    face = ImageFont.truetype(str(Path(_font_path()).with_name(font)), size)
    step = (H - 40) / len(MULTILINGUAL)
    centres = []
    for i, text in enumerate(MULTILINGUAL.values()):
        y = 20 + i * step + (step - size) / 2
        draw.text((50, y), text, font=face, fill=fg)
        _, y0, x1, y1 = draw.textbbox((50, y), text, font=face)
        assert x1 < W - 20, (text, size)  # the line fits the frame
        centres.append((y0 + y1) / 2 / H)
    return img, centres


def test_multilingual_lines_keep_accents_and_get_their_language(tmp_path: Path) -> None:
    """CER <= 3 % per language over four renderings; most lines tagged right."""
    if not Path(_font_path()).with_name("DejaVuSerif.ttf").is_file():
        pytest.skip("DejaVuSerif.ttf missing (install fonts-dejavu-core)")
    analyser = Ocr(OcrConfig(), default_chunk_s=60, models=ModelStore(tmp_path))
    renderings = [
        ("DejaVuSans.ttf", 20, False),
        ("DejaVuSerif.ttf", 30, True),
        ("DejaVuSans.ttf", 40, True),
        ("DejaVuSerif.ttf", 48, False),
    ]
    edits = dict.fromkeys(MULTILINGUAL, 0.0)
    tagged: list[bool] = []
    for font, size, light in renderings:
        img, centres = _render_languages(font, size, light_text=light)
        lines = analyser.read_frame(Frame(0.0, np.asarray(img)))
        for (lang, ref), centre in zip(MULTILINGUAL.items(), centres, strict=True):
            near = [ln for ln in lines if abs(ln["box"][1] + ln["box"][3] / 2 - centre) < 0.03]
            near.sort(key=lambda ln: ln["box"][0])
            text = " ".join(ln["text"] for ln in near)
            edits[lang] += cer(text, ref) * len(ref)
            tagged.append(bool(near) and near[0]["language"] == lang)
            for ln in near:
                assert 0.0 <= ln["language_confidence"] <= 1.0, ln
                assert ln["language"] in LANGS and 0.5 <= ln["confidence"] <= 1.0, ln
    rates = {lang: edits[lang] / (len(ref) * len(renderings)) for lang, ref in MULTILINGUAL.items()}
    assert all(rate <= 0.03 for rate in rates.values()), rates
    assert sum(tagged) >= 0.9 * len(tagged), tagged


def test_missing_language_pack_fails_at_load_naming_the_debian_package(tmp_path: Path) -> None:
    from aima.core.errors import ConfigError

    _, installed, _ = engines.tesseract_probe(engines.tesseract_cmd())
    if not installed:
        pytest.skip("tesseract is not installed")
    if "pol" in installed:
        pytest.skip("Polish language data installed: no missing pack to test with")
    analyser = Ocr(
        OcrConfig(languages=["en", "pl"]), default_chunk_s=60, models=ModelStore(tmp_path)
    )
    with pytest.raises(ConfigError, match=r"tesseract-ocr-pol"):
        analyser.ensure_loaded()
    assert engines.debian_package("chi_sim") == "tesseract-ocr-chi-sim"
