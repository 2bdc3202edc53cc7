"""Configuration versions: numbering, which version is in force when, kinds, district scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from whistle.config.scope import outside_scope
from whistle.config.versions import (
    APPEND_MARGIN,
    EPOCH,
    KINDS,
    ConfigVersion,
    History,
    acceptance,
    changed_kinds,
    decode_version,
    encode_version,
    kind_document,
    next_version,
    seed_version,
    with_kind,
)
from whistle.domain.codec import parse_event
from whistle.domain.configuration import Configuration, packaged_configuration
from whistle.domain.events import CaseRouted

JINHAI = "tongan.datong.jinhai"
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped() -> Configuration:
    return packaged_configuration()


def parking_led_by(config: Configuration, area: str, lead: str) -> Configuration:
    doc = kind_document(config, "routing")
    rules = [r for r in doc["rules"] if (r["category"], r["area"]) != ("parking", area)]
    rules.append({"id": f"{area}.parking", "category": "parking", "area": area, "lead": lead})
    return with_kind(config, "routing", {**doc, "rules": rules})


def version_after(previous: ConfigVersion, proposed: Configuration, at: datetime) -> ConfigVersion:
    return next_version(
        previous, proposed, author="root", reason="test", effective_from=at, published_at=at
    )


def test_every_kind_round_trips_through_its_document(shipped: Configuration) -> None:
    for kind in KINDS:
        assert changed_kinds(shipped, with_kind(shipped, kind, kind_document(shipped, kind))) == ()


def test_a_version_round_trips_through_its_record(shipped: Configuration) -> None:
    seed = seed_version(shipped)
    assert decode_version(encode_version(seed)) == seed
    assert seed.effective_from == EPOCH and seed.kinds == KINDS
    assert seed_version(shipped) == seed  # deterministic: two seeders append the same record


def test_the_versions_of_rules_and_policies_follow_what_changed(shipped: Configuration) -> None:
    seed = seed_version(shipped)
    assert (seed.rules_version, seed.policy_version) == (shipped.routing.version, "1")
    v2 = version_after(seed, parking_led_by(shipped, JINHAI, "civil_affairs"), T0)
    assert (v2.version, v2.kinds, v2.rules_version, v2.policy_version) == (
        2,
        ("routing",),
        "2",
        "1",
    )
    assert v2.document.routing.version == "2"  # what route() records on the case
    policies = kind_document(v2.document, "policies")
    policies["standard"]["clocks"]["general"]["ack"]["within"] = "PT3H"
    v3 = version_after(v2, with_kind(v2.document, "policies", policies), T0)
    assert (v3.kinds, v3.rules_version, v3.policy_version) == (("policies",), "2", "3")


def test_the_version_in_force_is_the_highest_numbered_one_in_effect(
    shipped: Configuration,
) -> None:
    history = History()
    seed = seed_version(shipped)
    assert history.offer(seed, None) is None
    later = version_after(seed, parking_led_by(shipped, JINHAI, "civil_affairs"), T0)
    assert history.offer(later, T0 - timedelta(minutes=1)) is None
    assert history.at(T0 - timedelta(microseconds=1)) is seed
    assert history.at(T0) is later
    # a version 3 that takes effect before version 2 wins from its own instant on
    sooner = version_after(later, parking_led_by(shipped, JINHAI, "transport"), T0)
    sooner = sooner.model_copy(update={"effective_from": T0 - timedelta(seconds=30)})
    assert history.offer(sooner, T0 - timedelta(minutes=1)) is None
    assert history.at(T0 - timedelta(seconds=31)) is seed
    assert history.at(T0 - timedelta(seconds=30)) is sooner
    assert history.at(T0 + timedelta(days=1)) is sooner


def test_followers_ignore_duplicates_gaps_and_versions_that_take_effect_too_soon(
    shipped: Configuration,
) -> None:
    seed = seed_version(shipped)
    history = History()
    with pytest.raises(LookupError):
        history.at(T0)
    history.offer(seed, T0)  # version 1 is in force since ever, whenever it was appended
    assert history.offer(seed, T0) == "duplicate"
    v2 = version_after(seed, parking_led_by(shipped, JINHAI, "civil_affairs"), T0)
    v3 = version_after(v2, shipped, T0)
    assert history.offer(v3, T0 - APPEND_MARGIN) == "gap"
    assert history.offer(v2, T0 - APPEND_MARGIN + timedelta(microseconds=1)) == "too_soon"
    assert history.last_number == 1 and history.refused == [(3, "gap"), (2, "too_soon")]
    assert acceptance(1, v2, T0 - APPEND_MARGIN) is None
    assert history.offer(v2, T0 - APPEND_MARGIN) is None
    assert history.get(2) is v2 and history.get(3) is None


def test_a_document_of_the_wrong_shape_is_refused(shipped: Configuration) -> None:
    with pytest.raises(ValueError):
        with_kind(shipped, "routing", {"rules": "no"})
    with pytest.raises(ValueError):
        with_kind(shipped, "areas", {"x.y": {"code": "x.y", "kind": "street", "name_zh": "街",
                                            "name_en": "St", "parent": "x"}})  # fmt: skip
    with pytest.raises(ValueError, match="both match"):
        doc = kind_document(shipped, "routing")
        with_kind(shipped, "routing", {**doc, "rules": [*doc["rules"], doc["rules"][0]]})


def test_a_district_config_admin_may_change_only_its_district(shipped: Configuration) -> None:
    inside = parking_led_by(shipped, JINHAI, "civil_affairs")
    assert outside_scope(shipped, inside, "tongan") == []
    assert outside_scope(shipped, inside, "haicang") == [f"rule {JINHAI}.parking"]
    citywide = parking_led_by(shipped, "*", "civil_affairs")
    assert outside_scope(shipped, citywide, "tongan") != []
    policies = kind_document(shipped, "policies")
    policies["standard"]["description"] = "changed"
    assert outside_scope(shipped, with_kind(shipped, "policies", policies), "tongan") == [
        "policies"
    ]
    areas = kind_document(shipped, "areas")
    areas[JINHAI]["name_zh"] = "金海新社区"
    assert outside_scope(shipped, with_kind(shipped, "areas", areas), "tongan") == []
    assert outside_scope(shipped, with_kind(shipped, "areas", areas), "haicang") == [
        f"area {JINHAI}"
    ]


def test_a_case_routed_before_policy_versions_still_decodes() -> None:
    old = {
        "type": "CaseRouted",
        "event_id": "00000000-0000-0000-0000-000000000001",
        "case_id": "c-1",
        "seq": 2,
        "occurred_at": "2026-01-05T09:00:00+08:00",
        "actor": {"user_id": "system", "role": "system"},
        "command_id": "route:c-1",
        "lead": "transport",
        "rule_id": "city.parking",
        "rules_version": "2025.12.1",
        "policy": "standard",
        "clocks": [],
    }
    event = parse_event(json.dumps(old).encode())
    assert isinstance(event, CaseRouted) and event.policy_version is None


def test_a_departments_liaison_contact_is_part_of_its_version(shipped: Configuration) -> None:
    departments = kind_document(shipped, "departments")
    departments["transport"]["contact"] = "0592-1234567 交通局值班室"
    changed = with_kind(shipped, "departments", departments)
    assert changed.departments["transport"].contact == "0592-1234567 交通局值班室"
    assert changed_kinds(shipped, changed) == ("departments",)
