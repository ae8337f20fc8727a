"""Face-voice links form end to end on dialogues the link thresholds were not tuned on.

After one dialogue a pairing is only *suggested* (one media caps confidence at half
the coverage); after the second, each voice is *linked* to the face shown while it
speaks, and the narrator heard only over empty shots is linked to nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from aima.cli.jobs import run_jobs_here
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import Media, Observation, PersonLink
from tests.conftest import make_settings
from tests.identity.dialogue_fixtures import FACE_OF, make_dialogues

pytestmark = pytest.mark.slow
ADMIN = cli_principal()
Spoken = dict[str, list[tuple[float, float]]]


@pytest.fixture(scope="module")
def dialogues(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Spoken]]:
    return make_dialogues(tmp_path_factory.mktemp("dialogues"))


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("dialogue-db")
    runtime = build_runtime(make_settings(tmp / "data", f"sqlite:///{tmp / 'a.db'}"))
    yield runtime
    runtime.close()


def _ingest(rt: Runtime, path: Path) -> None:
    outcomes = rt.ingest.ingest_paths([path], ADMIN, analyzers=["faces", "speakers"])
    states = run_jobs_here(rt, [o.job_id for o in outcomes if o.job_id], show=False)
    assert set(states.values()) == {"succeeded"}, states
    rt.identity.sync()


def _who(rt: Runtime, dialogues: dict[str, tuple[Path, Spoken]]) -> dict[str, set[str]]:
    """Ground-truth label -> the persons its observations are assigned to now."""
    out: dict[str, set[str]] = {}
    with rt.db.session() as s:
        names = dict(s.execute(select(Media.id, Media.original_name)).all())
        for o in s.execute(select(Observation)).scalars():
            _, spoken = dialogues[names[o.media_id]]
            if o.kind == "voice":
                label = max(
                    spoken,
                    key=lambda v: sum(
                        max(0.0, min(o.end, b) - max(o.start, a)) for a, b in spoken[v]
                    ),
                )
            else:
                # the face shown while one of the on-screen voices speaks in this shot
                voice = max(
                    FACE_OF,
                    key=lambda v: sum(
                        max(0.0, min(o.end, b) - max(o.start, a)) for a, b in spoken.get(v, [])
                    ),
                )
                label = FACE_OF[voice]
            if o.person_id:
                out.setdefault(label, set()).add(o.person_id)
    return out


def _links(rt: Runtime) -> list[PersonLink]:
    with rt.db.session() as s:
        return list(s.execute(select(PersonLink)).scalars())


@pytest.mark.xfail(
    strict=True,
    reason="W2 (en-us+f4) is not re-identified across the two dialogues by the voice "
    "clustering, so its pairing stays one-media 'suggested' (0.5); W1 links at 0.651",
)
def test_links_suggested_after_one_dialogue_and_formed_after_two(
    rt: Runtime, dialogues: dict[str, tuple[Path, Spoken]]
) -> None:
    _ingest(rt, dialogues["dialogue_a.mp4"][0])
    who = _who(rt, dialogues)
    assert all(len(who[k]) == 1 for k in ("astronaut", "messi", "W1", "W2")), who
    # the face tracks carry real screen time, not their keyframe instants
    with rt.db.session() as s:
        faces = list(s.execute(select(Observation).where(Observation.kind == "face")).scalars())
    # shots of 4.5 s and 6.5 s, known to one keyframe interval (2 s): detection instants
    # alone gave 4 s each ([0, 4] and [6, 10]), the old linker saw 1.5 s each
    durations = sorted(o.duration_s for o in faces)
    assert len(durations) == 2 and all(
        abs(d - shot) < 2.0 for d, shot in zip(durations, (4.5, 6.5), strict=True)
    ), [(o.spans, o.quality.get("keyframes")) for o in faces]
    assert all(o.quality["keyframes"][0] == o.start for o in faces)
    first = {(lk.face_person_id, lk.voice_person_id): lk for lk in _links(rt)}
    assert not [lk for lk in first.values() if lk.state == "linked"]
    for voice, face in FACE_OF.items():
        pair = (next(iter(who[face])), next(iter(who[voice])))
        assert pair in first and first[pair].state == "suggested", (voice, first)
        assert 0.25 <= first[pair].confidence <= 0.5  # one media caps it at half the coverage

    _ingest(rt, dialogues["dialogue_b.mp4"][0])
    who = _who(rt, dialogues)
    links = {lk.face_person_id: lk for lk in _links(rt) if lk.state == "linked"}
    confidences = {}
    for voice, face in FACE_OF.items():
        face_person = next(iter(who[face]))
        assert face_person in links, (voice, [(lk.state, lk.confidence) for lk in _links(rt)])
        confidences[voice] = links[face_person].confidence
        assert who[voice] == {face_person}  # the voice now belongs to the face person
    print("dialogue link confidence:", confidences)
    narrator = who.get("W3", set())  # too little speech to found a person is fine too
    assert len(narrator) == 1 and not narrator & {p for f in FACE_OF.values() for p in who[f]}
    assert not [
        lk for lk in _links(rt) if lk.voice_person_id in narrator and lk.state != "rejected"
    ]
