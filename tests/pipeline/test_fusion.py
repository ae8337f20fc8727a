"""Fusion and subtitle export on hand-made analyzer results (pure functions)."""

from __future__ import annotations

from typing import Any

from aima.analyzers._tracking import iou
from aima.pipeline.fusion import build_timeline
from aima.pipeline.subtitles import to_srt, to_webvtt
from aima.results import SpeakersResult, TranscribeResult


def transcript(transcribe: dict[str, Any], speakers: dict[str, Any]) -> list[dict[str, Any]]:
    lane = TranscribeResult.build(transcribe).lane(SpeakersResult.build(speakers))
    return [item.model_dump() for item in lane]


def face_tracks(faces: dict[str, Any], emotion: dict[str, Any]) -> list[dict[str, Any]]:
    tracks: list[dict[str, Any]] = build_timeline(
        {"id": "m"}, {"faces": faces, "emotion": emotion}, {}
    )["tracks"]["faces"]
    return tracks


SPEAKERS = {
    "speakers": [{"id": "S1", "total_s": 3.0}, {"id": "S2", "total_s": 2.0}],
    "turns": [
        {"start": 0.0, "end": 3.0, "speaker": "S1", "confidence": 0.9},
        {"start": 3.2, "end": 5.2, "speaker": "S2", "confidence": 0.8},
    ],
}
TRANSCRIBE = {
    "segments": [
        {
            "start": 0.5,
            "end": 2.5,
            "text": "hello there",
            "words": [
                {"start": 0.5, "end": 1.0, "word": "hello", "confidence": 0.9},
                {"start": 1.1, "end": 2.5, "word": "there", "confidence": 0.8},
            ],
        },
        {
            "start": 2.8,
            "end": 5.0,
            "text": "general kenobi",
            "words": [
                {"start": 2.8, "end": 3.1, "word": "general", "confidence": 0.7},
                {"start": 3.5, "end": 5.0, "word": "kenobi", "confidence": 0.9},
            ],
        },
    ]
}


def test_iou() -> None:
    assert iou([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert iou([0, 0, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]) == 0.0
    assert abs(iou([0, 0, 0.5, 1], [0.25, 0, 0.5, 1]) - 1 / 3) < 1e-9


def test_words_are_attributed_to_the_speaker_talking() -> None:
    segments = transcript(TRANSCRIBE, SPEAKERS)
    assert [w["speaker"] for w in segments[0]["words"]] == ["S1", "S1"]
    # "general" overlaps S1's turn only, "kenobi" lies inside S2's turn
    assert [w["speaker"] for w in segments[1]["words"]] == ["S1", "S2"]
    assert segments[0]["speaker"] == "S1"


def test_words_between_turns_go_to_the_nearest_turn_within_half_a_second() -> None:
    speakers = {"speakers": [], "turns": [{"start": 0.0, "end": 1.0, "speaker": "S9"}]}
    near = {
        "segments": [
            {
                "start": 1.2,
                "end": 1.4,
                "text": "x",
                "words": [{"start": 1.2, "end": 1.4, "word": "x"}],
            }
        ]
    }
    far = {
        "segments": [
            {
                "start": 3.0,
                "end": 3.2,
                "text": "y",
                "words": [{"start": 3.0, "end": 3.2, "word": "y"}],
            }
        ]
    }
    assert transcript(near, speakers)[0]["words"][0]["speaker"] == "S9"
    assert transcript(far, speakers)[0]["words"][0]["speaker"] is None


def test_emotions_join_face_tracks_by_time_and_box() -> None:
    faces = {
        "faces": [
            {"t": 0.0, "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.9},
            {"t": 2.0, "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.7},
            {"t": 2.0, "box": [0.6, 0.6, 0.2, 0.2], "confidence": 0.8},
        ],
        "tracks": [
            {"id": 1, "start": 0.0, "end": 2.0, "detections": [0, 1], "best": 0, "crop": "a" * 64},
            {"id": 2, "start": 2.0, "end": 2.0, "detections": [2], "best": 2},
        ],
    }
    TOP = {"top": "happy", "confidence": 0.5}
    emotion = {
        "detections": [
            {"t": 0.0, "box": [0.1, 0.1, 0.2, 0.2], "emotions": {"happy": 0.8, "sad": 0.2}, **TOP},
            {"t": 2.0, "box": [0.11, 0.1, 0.2, 0.2], "emotions": {"happy": 0.6, "sad": 0.4}, **TOP},
            {"t": 2.0, "box": [0.6, 0.6, 0.2, 0.2], "emotions": {"happy": 0.1, "sad": 0.9}, **TOP},
        ]
    }
    tracks = face_tracks(faces, emotion)
    assert tracks[0]["emotions"] == {"happy": 0.7, "sad": 0.3}
    assert tracks[0]["top_emotion"] == "happy" and tracks[0]["confidence"] == 0.8
    assert tracks[1]["top_emotion"] == "sad"


def test_timeline_summary_counts_every_modality() -> None:
    results = {
        "speakers": SPEAKERS,
        "transcribe": TRANSCRIBE,
        "vad": {"segments": [{"start": 0.4, "end": 5.1, "confidence": 0.9}], "speech_s": 4.7},
        "ocr": {"lines": [{"text": "EXIT", "start": 1.0, "end": 3.0, "confidence": 0.9}]},
        "nsfw": {"max_score": 0.03, "spans": []},
    }
    tl = build_timeline({"id": "m"}, results, {})
    assert tl["summary"]["speakers"] == 2
    assert tl["summary"]["words"] == 4
    assert tl["summary"]["speech_s"] == 4.7
    assert tl["summary"]["ocr_lines"] == 1
    assert tl["summary"]["nsfw_spans"] == 0
    assert tl["tracks"]["faces"] == []


def test_subtitles_carry_speaker_labels_and_exact_times() -> None:
    segments = transcript(TRANSCRIBE, SPEAKERS)
    vtt = to_webvtt(segments)
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:00.500 --> 00:00:02.500\n<v S1>hello there" in vtt
    srt = to_srt(segments)
    assert "1\n00:00:00,500 --> 00:00:02,500\n[S1] hello there\n" in srt
    assert "2\n00:00:02,800 --> 00:00:05,000\n" in srt
    assert to_srt([]) == ""


def test_visual_spans_last_until_the_next_keyframe() -> None:
    results = {
        "nsfw": {"frames": [{"t": t, "score": 0.0} for t in (0.0, 2.0, 5.0, 8.0)], "spans": []},
        "ocr": {"lines": [{"text": "EXIT", "start": 2.0, "end": 2.0, "confidence": 0.9}]},
        "faces": {
            "faces": [{"t": 8.0, "box": [0, 0, 1, 1], "confidence": 0.9}],
            "tracks": [{"id": 0, "start": 8.0, "end": 8.0, "detections": [0], "best": 0}],
        },
    }
    tl = build_timeline({"id": "m", "duration_s": 10.0}, results, {})
    (line,) = tl["tracks"]["ocr"]
    assert (line["start"], line["end"], line["seen_until"]) == (2.0, 5.0, 2.0)
    (face,) = tl["tracks"]["faces"]
    assert (face["start"], face["end"]) == (8.0, 10.0)  # last keyframe: until the media ends
    # without a keyframe grid nothing is extended
    assert (
        build_timeline({"id": "m"}, {"ocr": results["ocr"]}, {})["tracks"]["ocr"][0]["end"] == 2.0
    )


def test_a_result_its_model_rejects_is_never_fused_or_stored() -> None:
    from aima.results import InvalidResult

    bad = {"segments": [{"start": "soon", "end": 1.0, "text": "x"}]}
    try:
        TranscribeResult.build(bad)
    except InvalidResult as exc:
        assert "segments.0.start" in exc.message
    else:  # pragma: no cover - the assertion that matters
        raise AssertionError("an invalid transcript was accepted")


def test_rows_from_before_typed_results_are_read_and_upgraded() -> None:
    old = {"segments": [], "text": "", "language": "en", "engine": "pocketsphinx", "note": "weak"}
    typed = TranscribeResult.load(old)  # no schema_version: written before typed results
    assert typed.schema_version == TranscribeResult.SCHEMA_VERSION
    assert typed.dump()["schema_version"] == TranscribeResult.SCHEMA_VERSION
    assert typed.dump()["analyzer"] == "transcribe"


def test_a_new_analyzer_draws_its_own_lane_without_editing_fusion() -> None:
    from typing import Literal

    from aima.results import AnalyzerResult, Contribution, TimelineContext

    class BeepsResult(AnalyzerResult):
        analyzer: Literal["beeps_test"] = "beeps_test"
        beeps: list[float] = []

        def timeline(self, ctx: TimelineContext) -> Contribution:
            return Contribution(tracks={"beeps": self.beeps}, summary={"beeps": len(self.beeps)})

    tl = build_timeline({"id": "m"}, {"beeps_test": {"beeps": [1.0, 2.5]}}, {})
    assert tl["tracks"]["beeps"] == [1.0, 2.5] and tl["summary"]["beeps"] == 2
    assert BeepsResult.load({"beeps": []}).beeps == []


def test_the_fallback_transcript_says_so_in_words() -> None:
    results = {
        "transcribe": {"segments": [], "engine": "pocketsphinx", "fallback": True, "note": "weak"}
    }
    notes = build_timeline({"id": "m"}, results, {})["notes"]
    assert any("fallback" in n for n in notes)
