"""Contracts: schemas/ matches the code; events leave the system as CloudEvents 1.0."""

from __future__ import annotations

import json
from pathlib import Path

from tests.stories import routed_story
from whistle.contracts import drift, render, to_cloudevent, write_schemas
from whistle.domain.codec import EVENT_TYPES
from whistle.domain.commands import ALL_COMMANDS
from whistle.domain.events import ALL_EVENTS

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def test_checked_in_schemas_match_the_code(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    for rel in render():
        assert (SCHEMAS / rel).read_text(encoding="utf-8") == (tmp_path / rel).read_text(
            encoding="utf-8"
        ), f"schemas/{rel} drifted: run python -m whistle.contracts"
    assert drift(SCHEMAS) == []


def test_drift_is_detected(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    (tmp_path / "events" / "CaseClosed.json").write_text("{}", encoding="utf-8")
    (tmp_path / "events" / "CaseVanished.json").write_text("{}", encoding="utf-8")
    assert drift(tmp_path) == ["differs events/CaseClosed.json", "stale events/CaseVanished.json"]


def test_one_schema_per_command_and_event() -> None:
    files = render()
    assert {f"commands/{c.__name__}.json" for c in ALL_COMMANDS} <= set(files)
    assert {f"events/{e.__name__}.json" for e in ALL_EVENTS} <= set(files)
    assert set(EVENT_TYPES) == {e.__name__ for e in ALL_EVENTS}


def test_requester_is_marked_personal_data() -> None:
    schema = json.loads(render()["events/WhistleRaised.json"])
    assert schema["$defs"]["Requester"]["x-personal-data"] is True


def test_to_cloudevent() -> None:
    story = routed_story()
    raised, routed = story.events
    ce = to_cloudevent(routed, source="urn:whistle:xiamen")
    assert ce["specversion"] == "1.0"
    assert ce["type"] == "whistle.case.routed.v1"
    assert ce["id"] == routed.event_id and ce["subject"] == routed.case_id
    assert ce["source"] == "urn:whistle:xiamen" and ce["sequence"] == "2"
    assert ce["time"] == "2025-09-22T09:00:00+08:00"
    assert ce["data"]["lead"] == "urban_management"
    raised_ce = to_cloudevent(raised)
    assert raised_ce["type"] == "whistle.case.raised.v2"
    assert "requester" not in raised_ce["data"]
    assert to_cloudevent(raised, include_personal_data=True)["data"]["requester"]["name"]


def test_cloudevent_fits_the_envelope_schema() -> None:
    envelope = json.loads(render()["cloudevents-envelope.json"])
    ce = to_cloudevent(routed_story().events[1])
    assert set(envelope["required"]) <= set(ce)
    assert set(ce) <= set(envelope["properties"])
    assert ce["type"] in envelope["properties"]["type"]["enum"]
    types = {to_cloudevent(e)["type"] for e in routed_story().events}
    assert types <= set(envelope["x-whistle-event-types"])
