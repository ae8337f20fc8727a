"""The ``scenes`` analyzer: the real job runner, the real ``aima.llm`` client and a real
database, against the local fake VLM server (``tests/fakes/vlm_server.py``) whose answers
come from the pixels it is sent."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from aima.analyzers import _scenes_calibration as calibration
from aima.analyzers.scenes import NOT_CONFIGURED
from aima.results import ScenesResult, load_result
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import JobChunk, LlmCall
from tests.analyzers import faces_fixtures as ff
from tests.conftest import make_settings
from tests.fakes.vlm_server import FakeVlm, running
from tests.llm.faults import Fault, FaultProxy

RED_BOX = (300, 330, 380, 350)  # x0, y0, x1, y1 on a 512 x 512 picture
SIGN_BOX = (20, 20, 200, 90)


def scene_picture(*, red: bool = True, sign: bool = True, person: bool = True) -> Image.Image:
    """The astronaut photo (a real person for the bodies detector; plain grey without) with
    a red band near the hands and a green sign reading ACME."""
    if person:
        img = ff.astronaut().resize((512, 512)).convert("RGB")
    else:
        img = Image.new("RGB", (512, 512), (128, 128, 128))
    draw = ImageDraw.Draw(img)
    if red:
        draw.rectangle(RED_BOX, fill=(220, 10, 10))
    if sign:
        draw.rectangle(SIGN_BOX, fill=(20, 200, 40))
        font = ImageFont.load_default(size=48)
        draw.text((35, 28), "ACME", fill=(0, 0, 0), font=font)
    return img


def vlm_settings(fake: FakeVlm, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": fake.base_url,
        "api_key": fake.api_key,
        "model": "llava-test",
        "max_retries": 2,
        "backoff_s": 0.01,
        "backoff_max_s": 0.05,
        "timeout_s": 20,
        "circuit_failures": 1000,
        **extra,
    }


@pytest.fixture
def fake() -> Iterator[FakeVlm]:
    with running() as server:
        yield server


@pytest.fixture
def make_rt(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(fake: FakeVlm | None, **overrides: Any) -> Runtime:
        llm = {"vlm": vlm_settings(fake, **overrides.pop("vlm", {}))} if fake else {}
        settings = make_settings(
            tmp_path / f"data{len(built)}",
            f"sqlite:///{tmp_path / f'aima{len(built)}.db'}",
            allow_sensitive_analyzers=overrides.pop("allow_sensitive_analyzers", True),
            llm=llm,
            **overrides,
        )
        rt = build_runtime(settings)
        built.append(rt)
        return rt

    yield make
    for rt in built:
        rt.close()


def scenes_of(rt: Runtime, job: Any) -> ScenesResult:
    result = ff.results(rt, job)["scenes"]
    typed = load_result("scenes", result.data)
    assert isinstance(typed, ScenesResult)
    return typed


# ------------------------------------------------------------------ the fake speaks the protocol


def test_fake_checks_auth_and_images_like_a_real_server(fake: FakeVlm) -> None:
    url = fake.base_url + "/chat/completions"
    good = {"Authorization": f"Bearer {fake.api_key}"}
    body = {
        "model": "x",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
                ],
            }
        ],
    }
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    bad = httpx.post(url, json=body, headers=good)
    assert bad.status_code == 400 and "invalid image" in bad.json()["error"]["message"]
    jpeg = io.BytesIO()
    scene_picture().save(jpeg, format="JPEG")
    import base64

    body["messages"][0]["content"][1]["image_url"]["url"] = (  # type: ignore[index]
        "data:image/jpeg;base64," + base64.b64encode(jpeg.getvalue()).decode()
    )
    ok = httpx.post(url, json=body, headers=good)
    assert ok.status_code == 200 and ok.json()["usage"]["prompt_tokens"] > 0


# ------------------------------------------------------------------ availability and policy


def test_without_an_endpoint_scenes_is_recorded_not_configured(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(None)
    assert rt.registry.disabled_reason("scenes") == NOT_CONFIGURED
    path = ff.save(scene_picture(), tmp_path / "scene.jpg")
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyzers=["scenes"])
    assert outcome.job_id
    plan = rt.jobs.plan(cli_principal(), outcome.media_id, ["scenes"])  # type: ignore[arg-type]
    (row,) = [a for a in plan.analyzers if a.name == "scenes"]
    assert (row.status, row.reason) == ("disabled", NOT_CONFIGURED)
    assert rt.make_worker("t").run_once()
    job = rt.jobs.get(cli_principal(), outcome.job_id)
    assert job.outcome["scenes"] == {"status": "disabled", "reason": NOT_CONFIGURED}


def test_sensitive_policy_applies(make_rt: Callable[..., Runtime], fake: FakeVlm) -> None:
    rt = make_rt(fake, allow_sensitive_analyzers=False)
    assert rt.registry.disabled_reason("scenes") == "disabled by policy"
    assert "scenes" not in rt.settings.jobs.default_analyzers


# ------------------------------------------------------------------ what it finds


def test_scene_from_pixels_with_person_boxes_restraint_and_logo(
    make_rt: Callable[..., Runtime], fake: FakeVlm, tmp_path: Path
) -> None:
    rt = make_rt(fake)
    path = ff.save(scene_picture(), tmp_path / "scene.jpg")
    job = ff.run_job(rt, path, ("bodies", "scenes"))
    assert job.state == "succeeded", job.outcome
    result = scenes_of(rt, job)
    assert result.prompt == "scenes.describe@1" and result.model == "fake-vlm-1"
    (frame,) = result.frames
    assert frame.error is None and "red metal band" in frame.description
    # person boxes came from the bodies result and were numbered in the prompt
    assert frame.persons and frame.persons[0].ref == "body:0"
    assert frame.persons[0].actions == ["standing"]
    (r,) = frame.restraints
    assert r.label == "handcuffs" and r.person == "body:0"
    x0, y0, x1, y1 = (v / 512 for v in RED_BOX)
    assert r.box is not None and abs(r.box[0] - x0) < 0.02 and abs(r.box[1] - y0) < 0.02
    assert abs(r.box[2] - (x1 - x0)) < 0.03 and abs(r.box[3] - (y1 - y0)) < 0.03
    assert 0.6 <= r.raw_confidence <= 0.95
    assert result.calibration.method == "prior"
    assert r.confidence == calibration.apply(calibration.PRIOR, r.raw_confidence)
    assert r.confidence < r.raw_confidence  # the prior is conservative
    assert r.evidence is not None
    crop = Image.open(io.BytesIO(rt.blobs.get_bytes(r.evidence)))
    assert crop.format == "JPEG" and crop.width < 512  # the box with a margin, not the frame
    (logo,) = frame.logos
    assert logo.text == "ACME" and logo.confirmed_by_ocr is False  # no OCR ran
    # the request carried exactly one JPEG and asked for a JSON schema
    seen = [s for s in fake.requests if s.status == 200]
    assert len(seen) == 1 and seen[0].images == 1 and seen[0].response_format == "json_schema"
    with rt.db.session() as s:
        calls = s.execute(select(LlmCall).where(LlmCall.job_id == job.id)).scalars().all()
    assert [c.prompt_id for c in calls] == ["scenes.describe"] and calls[0].prompt_tokens > 85
    tracks = rt.timelines.timeline(cli_principal(), job.media_id)["tracks"]
    (flag,) = tracks["restraints"]
    assert flag["review"] == "needs review" and "unreviewed" in flag["text"]
    assert tracks["scenes"][0]["description"] == frame.description


def test_a_clean_picture_has_no_restraint(
    make_rt: Callable[..., Runtime], fake: FakeVlm, tmp_path: Path
) -> None:
    rt = make_rt(fake)
    path = ff.save(scene_picture(red=False, sign=False), tmp_path / "clean.jpg")
    job = ff.run_job(rt, path, ("scenes",))
    (frame,) = scenes_of(rt, job).frames
    assert frame.restraints == [] and frame.logos == [] and frame.persons == []
    assert "no notable objects" in frame.description


def test_logo_is_confirmed_when_ocr_reads_it(
    make_rt: Callable[..., Runtime], fake: FakeVlm, tmp_path: Path
) -> None:
    rt = make_rt(fake)
    path = ff.save(scene_picture(red=False), tmp_path / "sign.jpg")
    job = ff.run_job(rt, path, ("ocr", "scenes"))
    ocr_text = ff.results(rt, job)["ocr"].data["text"]
    (frame,) = scenes_of(rt, job).frames
    (logo,) = frame.logos
    assert "ACME" in ocr_text.upper()
    assert logo.confirmed_by_ocr is True


# ------------------------------------------------------------------ faults


def test_429_500_and_malformed_json_are_survived(
    make_rt: Callable[..., Runtime], fake: FakeVlm, tmp_path: Path
) -> None:
    rt = make_rt(fake)
    fake.fail_next(1, 429, retry_after=0.01)
    fake.fail_next(1, 500)
    fake.malformed_next(1)
    path = ff.save(scene_picture(), tmp_path / "scene.jpg")
    job = ff.run_job(rt, path, ("scenes",))
    assert job.state == "succeeded", job.outcome
    (frame,) = scenes_of(rt, job).frames
    assert frame.error is None and frame.repaired is True and frame.restraints
    statuses = [s.status for s in fake.requests]
    assert statuses == [429, 500, 200, 200]  # retried twice, then the repair request


def test_an_answer_invalid_twice_is_recorded_and_the_job_stands(
    make_rt: Callable[..., Runtime], fake: FakeVlm, tmp_path: Path
) -> None:
    rt = make_rt(fake)
    fake.invalid_next(2)
    path = ff.save(scene_picture(), tmp_path / "scene.jpg")
    job = ff.run_job(rt, path, ("scenes",))
    assert job.state == "succeeded", job.outcome
    result = scenes_of(rt, job)
    (frame,) = result.frames
    assert frame.error and "description" in frame.error
    assert frame.description == "" and frame.restraints == []
    assert result.failed_frames == 1


def test_server_gone_mid_job_ends_partial_and_a_rerun_resumes(
    make_rt: Callable[..., Runtime], fake: FakeVlm, tmp_path: Path
) -> None:
    rt = make_rt(fake, vlm={"max_retries": 1})
    shots = [
        (scene_picture(), 2.0),
        (scene_picture(red=False), 2.0),
        (scene_picture(sign=False), 2.0),
    ]
    path = ff.make_video(tmp_path / "three.mp4", shots, size=(320, 240))
    fake.go_away_after(1)  # chunk 0 is answered, then the server is gone
    job = ff.run_job(rt, path, ("thumbnails", "scenes"))
    assert job.state == "partial", job.outcome
    assert job.outcome["scenes"]["status"] == "failed"
    with rt.db.session() as s:
        rows = {
            c.chunk_index: (c.status, c.attempts)
            for c in s.execute(select(JobChunk).where(JobChunk.job_id == job.id)).scalars()
        }
    assert rows[0] == ("done", 1) and rows[1][0] == "failed" and len(rows) == 3
    answered = fake.answered
    fake.come_back()
    rt.jobs.retry(cli_principal(), job.id)
    assert rt.make_worker("t2").run_once()
    job = rt.jobs.get(cli_principal(), job.id)
    assert job.state == "succeeded", job.outcome
    with rt.db.session() as s:
        after = {
            c.chunk_index: (c.status, c.attempts)
            for c in s.execute(select(JobChunk).where(JobChunk.job_id == job.id)).scalars()
        }
    assert after[0] == ("done", 1)  # the committed chunk was not redone
    assert after[1][0] == after[2][0] == "done"
    assert fake.answered - answered == 2  # chunks 1 and 2 only
    result = scenes_of(rt, job)
    assert [f.t for f in result.frames] == sorted(f.t for f in result.frames)
    assert len(result.frames) == 3
    assert [bool(f.restraints) for f in result.frames] == [True, False, True]
    assert [bool(f.logos) for f in result.frames] == [True, True, False]


# ------------------------------------------------------------------ calibration


def test_calibration_prior_until_enough_decisions_then_platt() -> None:
    assert calibration.fit([(0.9, True)] * 19) is calibration.PRIOR
    assert calibration.fit([(0.9, True)] * 30) is calibration.PRIOR  # one class only
    decisions = [(0.9, True)] * 12 + [(0.8, True)] * 4 + [(0.4, False)] * 10 + [(0.85, False)] * 2
    cal = calibration.fit(decisions)
    assert cal.method == "platt" and cal.samples == 28 and cal.a > 0
    high, low = calibration.apply(cal, 0.9), calibration.apply(cal, 0.4)
    assert high > 0.7 and low < 0.3
    # the opposite evidence flips the mapping: the model's confidence is anti-informative
    flipped = calibration.fit([(x, not ok) for x, ok in decisions])
    assert calibration.apply(flipped, 0.9) < calibration.apply(flipped, 0.4)


# ------------------------------------------------------------------ through the fault proxy


def _three_shots(tmp_path: Path) -> Path:
    shots = [(scene_picture(), 2.0), (scene_picture(person=False), 2.0), (scene_picture(), 2.0)]
    return ff.make_video(tmp_path / "three.mp4", shots, size=(320, 240))


def test_keyframes_of_a_chunk_are_asked_concurrently_up_to_the_limit(
    make_rt: Callable[..., Runtime], fake: FakeVlm, tmp_path: Path
) -> None:
    gate = threading.Event()
    with FaultProxy(fake.base_url) as proxy:
        rt = make_rt(
            fake,
            vlm={"base_url": proxy.base_url, "max_concurrency": 2, "timeout_s": 300},
            jobs={"chunk_s": 10},  # the three keyframes (0, 2, 4 s) share one chunk
            analyzers={"scenes": {"max_frames_per_shot": 3}},
        )
        proxy.script(*[Fault.hold(gate)] * 3)
        path = _three_shots(tmp_path)
        outcome = rt.ingest.ingest_file(path, cli_principal(), analyzers=["scenes"])
        worker = threading.Thread(target=rt.make_worker("t").run_once, daemon=True)
        worker.start()
        try:
            # two requests held at once: they were sent concurrently, and the third waits
            assert proxy.wait_for(lambda p: p.in_flight == 2, timeout=120)
            assert proxy.count == 2
        finally:
            gate.set()
            worker.join(timeout=120)
        assert not worker.is_alive()
        assert proxy.max_in_flight == 2
    job = rt.jobs.get(cli_principal(), outcome.job_id or "")
    assert job.state == "succeeded", job.outcome
    frames = scenes_of(rt, job).frames
    assert proxy.count == len(frames) == 3  # one request per keyframe, none retried
    assert frames[0].restraints and frames[2].restraints  # the astronaut shots
    assert frames[0].description == frames[2].description != frames[1].description


def test_a_timeout_fails_the_chunk_and_the_job_is_partial(
    make_rt: Callable[..., Runtime], fake: FakeVlm, tmp_path: Path
) -> None:
    gate = threading.Event()
    with FaultProxy(fake.base_url) as proxy:
        rt = make_rt(fake, vlm={"base_url": proxy.base_url, "timeout_s": 1.0, "max_retries": 1})
        proxy.script(Fault.hold(gate), Fault.hold(gate))  # never answered in time
        path = ff.save(scene_picture(), tmp_path / "scene.jpg")
        try:
            job = ff.run_job(rt, path, ("thumbnails", "scenes"))
        finally:
            gate.set()
    assert job.state == "partial", job.outcome
    assert job.outcome["thumbnails"]["status"] == "succeeded"
    assert job.outcome["scenes"]["status"] == "failed"
    assert "vlm" in job.outcome["scenes"]["reason"]
    with rt.db.session() as s:
        calls = s.execute(select(LlmCall).where(LlmCall.job_id == job.id)).scalars().all()
    assert [c.status for c in calls] == ["error"] and calls[0].attempts == 2
