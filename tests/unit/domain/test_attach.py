"""附图: photos attached at each stage by whoever that stage belongs to, at most nine a stage,
each once; the event records hash, size and type, never bytes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.stories import (
    ADMIN,
    LEAD,
    SECRETARY,
    SUPERVISOR,
    SUPPORT,
    Story,
    attach,
    callback,
    liaison,
    photo,
    publish,
    raise_whistle,
    resolve,
    routed_story,
    withdraw,
    working_story,
)
from whistle.domain import encode
from whistle.domain.rejections import render
from whistle.domain.steps.attach import MAX_PHOTOS, AttachPhotos, PhotosAttached


def test_a_secretary_attaches_the_whistles_photos_before_routing() -> None:
    story = Story()
    story.do(raise_whistle())
    [event] = story.do(attach("raise", SECRETARY, photo(1), photo(2, "image/heic")))
    assert isinstance(event, PhotosAttached)
    assert [p.sha256 for p in event.photos] == [photo(1).sha256, photo(2).sha256]
    assert event.photos[1].content_type == "image/heic" and event.photos[0].size == 7000
    assert event.actor == SECRETARY and event.occurred_at == story.now  # uploader and time
    assert story.s.photos == {"raise": (photo(1).sha256, photo(2).sha256)}


def test_the_event_carries_no_bytes() -> None:
    story = routed_story()
    [event] = story.do(attach("raise", SECRETARY))
    body = encode(event).decode()
    assert set(event.photos[0].model_dump()) == {"sha256", "size", "content_type"}
    assert len(body) < 1000


def test_each_stage_belongs_to_its_people() -> None:
    story = working_story()
    rejected = story.rejected(attach("progress", SECRETARY), "photo_stage_role")
    assert render(rejected.code, rejected.params, "zh") == (
        "社区书记不能在“办理”环节附图；可以附图的角色：管理员、部门联络员。"
    )
    story.rejected(attach("raise", liaison(LEAD)), "photo_stage_role")
    story.rejected(attach("publish", liaison(LEAD)), "photo_stage_role")
    story.do(attach("progress", liaison(SUPPORT[0])))
    story.do(attach("progress", ADMIN))
    story.do(attach("resolution", SUPERVISOR))


def test_only_the_lead_attaches_the_result_and_only_assigned_departments_their_work() -> None:
    story = working_story()
    story.rejected(attach("resolution", liaison(SUPPORT[0])), "not_your_department")
    story.rejected(attach("progress", liaison("civil_affairs")), "not_routed_to_department")
    story.do(attach("resolution", liaison(LEAD)))


def test_after_photos_come_with_the_result_not_before() -> None:
    story = working_story()
    rejected = story.rejected(attach("publish", SECRETARY), "photo_stage_closed")
    assert render(rejected.code, rejected.params, "en") == (
        "The case is in progress: no publication photos now."
    )
    story.do(resolve())
    story.do(callback())
    story.do(attach("publish", SECRETARY, photo(7)))
    story.do(publish())
    story.do(attach("publish", SECRETARY, photo(8)))  # added after publishing too
    story.rejected(attach("progress", liaison(LEAD)), "photo_stage_closed")


def test_a_withdrawn_case_takes_no_photos() -> None:
    story = routed_story()
    story.do(withdraw())
    story.rejected(attach("raise", SECRETARY), "photo_stage_closed")


def test_nine_photos_a_stage_and_a_department_apart() -> None:
    story = working_story()
    story.do(attach("progress", liaison(LEAD), *(photo(i) for i in range(5))))
    story.do(attach("progress", liaison(LEAD), *(photo(i) for i in range(5, 9))))
    rejected = story.rejected(attach("progress", liaison(LEAD), photo(9)), "too_many_photos")
    assert rejected.params == {"stage": "progress", "limit": "9", "attached": "9"}
    assert render(rejected.code, rejected.params, "zh") == "“办理”环节最多附 9 张照片，已附 9 张。"
    story.do(attach("progress", liaison(SUPPORT[0]), photo(9)))  # another department's own nine
    story.do(attach("resolution", liaison(LEAD), photo(9)))  # another stage


def test_more_than_nine_in_one_command_is_not_a_command() -> None:
    with pytest.raises(ValidationError, match="at most 9"):
        attach("raise", SECRETARY, *(photo(i) for i in range(MAX_PHOTOS + 1)))


def test_a_photo_is_attached_once_a_stage() -> None:
    story = routed_story()
    story.do(attach("raise", SECRETARY, photo(1)))
    [event] = story.do(attach("raise", SECRETARY, photo(1), photo(2), photo(2)))
    assert [p.sha256 for p in event.photos] == [photo(2).sha256]
    story.rejected(attach("raise", SECRETARY, photo(1)), "photos_already_attached")


def test_a_hash_must_be_a_sha256() -> None:
    with pytest.raises(ValidationError):
        AttachPhotos.model_validate(
            attach("raise", SECRETARY).model_dump()
            | {"photos": [{"sha256": "abc", "size": 1, "content_type": "image/jpeg"}]}
        )
    with pytest.raises(ValidationError):
        AttachPhotos.model_validate(
            attach("raise", SECRETARY).model_dump()
            | {"photos": [photo().model_dump() | {"content_type": "image/gif"}]}
        )
