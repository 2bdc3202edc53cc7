"""合并: a duplicate merged into its original is closed, and the original records the merge."""

from __future__ import annotations

from msgspec.structs import replace

from streams.decider import CommandRecord, decide_batch, encode_value
from tests.stories import (
    ADMIN,
    SECRETARY,
    Story,
    ack,
    cid,
    liaison,
    raise_whistle,
    resolve,
    routed_story,
    working_story,
)
from whistle.domain import SYSTEM, Actor, CaseState, encode, parse_command
from whistle.domain.reactions import follow_ups
from whistle.domain.steps.merge import (
    CaseMergedInto,
    DuplicateMerged,
    MergeDuplicate,
    RecordMerge,
)

ORIGINAL = "K-0000"


def merge(
    original: str = ORIGINAL, by: Actor = SECRETARY, case_id: str = "K-0001"
) -> MergeDuplicate:
    """Merge ``case_id`` into ``original``."""
    return MergeDuplicate(
        command_id=cid("merge"),
        case_id=case_id,
        actor=by,
        original_case_id=original,
        note="同一处违停",
    )


def merged() -> tuple[Story, CaseMergedInto]:
    """A routed case merged into ``ORIGINAL`` by its community's secretary."""
    story = routed_story()
    (event,) = story.do(merge())
    assert isinstance(event, CaseMergedInto)
    return story, event


def test_the_duplicate_is_closed_pointing_to_its_original() -> None:
    story, event = merged()
    assert (event.original_case_id, event.note) == (ORIGINAL, "同一处违停")
    assert event.title == story.s.title == "滨海浪漫线游客激增，占道停车"
    assert story.s.status == "duplicate"
    assert story.s.duplicate_of == ORIGINAL
    assert story.s.closed_at == event.occurred_at


def test_the_merge_sends_the_original_a_record_of_it_the_same_on_every_replay() -> None:
    _, event = merged()
    (command,) = follow_ups([event])
    assert isinstance(command, RecordMerge)
    assert command.case_id == ORIGINAL
    assert command.actor == SYSTEM
    assert (command.duplicate_case_id, command.merged_by) == ("K-0001", SECRETARY.user_id)
    assert (command.title, command.note) == (event.title, "同一处违停")
    assert follow_ups([event]) == [command]  # deterministic id: a replay is a duplicate there


def test_the_original_records_the_merge_without_changing_otherwise() -> None:
    _, event = merged()
    (record,) = follow_ups([event])
    original = _original()
    before = original.s
    (recorded,) = original.do(record)
    assert isinstance(recorded, DuplicateMerged)
    assert (recorded.case_id, recorded.duplicate_case_id) == (ORIGINAL, "K-0001")
    assert (recorded.merged_by, recorded.title) == (SECRETARY.user_id, event.title)
    after = original.s
    assert after.seq == before.seq + 1
    assert replace(after, seq=0, applied_command_ids=frozenset()) == replace(
        before, seq=0, applied_command_ids=frozenset()
    )
    assert original.attempt(record) == []  # the same record again: a duplicate


def _original() -> Story:
    """The original case ``ORIGINAL``, raised and routed."""
    story = Story()
    story.do(raise_whistle(case_id=ORIGINAL))
    story.do(story.routing())
    return story


def test_a_finished_original_still_records_the_merge() -> None:
    original = _original()
    for dept in original.s.assignments:
        original.do(ack(dept, case_id=ORIGINAL))
    original.do(resolve().model_copy(update={"case_id": ORIGINAL}))
    _, event = merged()
    (record,) = follow_ups([event])
    (recorded,) = original.do(record)
    assert isinstance(recorded, DuplicateMerged)
    assert original.s.status == "resolved"


def test_a_case_cannot_be_merged_into_itself() -> None:
    routed_story().rejected(merge(original="K-0001"), "self_duplicate")


def test_a_resolved_or_finished_case_cannot_be_merged() -> None:
    story = working_story()
    story.do(resolve())
    story.rejected(merge(), "case_resolved")
    story, _ = merged()
    story.rejected(merge(original="K-0002"), "case_finished")


def test_who_may_merge() -> None:
    routed_story().rejected(merge(by=liaison("urban_management")), "role_not_allowed")
    assert routed_story().do(merge(by=ADMIN))
    original = _original()
    by_hand = RecordMerge(
        command_id=cid("record"),
        case_id=ORIGINAL,
        actor=ADMIN,
        duplicate_case_id="K-0001",
        title="t",
        merged_by="admin",
    )
    original.rejected(by_hand, "role_not_allowed")  # only the reaction sends it


def test_the_record_cannot_name_the_original_itself() -> None:
    original = _original()
    (record,) = follow_ups([merged()[1]])
    original.rejected(record.model_copy(update={"duplicate_case_id": ORIGINAL}), "self_duplicate")


def test_the_worker_sends_the_record_to_the_original_with_the_events() -> None:
    story = routed_story()
    state: CaseState = story.s
    command = merge()
    record = CommandRecord(b"K-0001", encode(command), 1_795_000_000_000, 3, 7)
    values = {"K-0001": encode_value(state)}

    first = decide_batch([record], lambda case_id, _: values.get(case_id))
    assert [case_id for case_id, _ in first.events] == ["K-0001"]
    ((target, body),) = first.follow_ups
    sent = parse_command(body)
    assert target == ORIGINAL and isinstance(sent, RecordMerge)
    assert sent.duplicate_case_id == "K-0001"
    replay = decide_batch([record], lambda case_id, _: values.get(case_id))
    assert replay.follow_ups == first.follow_ups  # a crash before storing sends it again
