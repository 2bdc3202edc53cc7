"""``whistle whatif`` before it reaches Kafka: one-line errors in the caller's language, and
the summary table of an answer (zh by default, en on request)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.stories import T0
from tests.unit.whatif.live_log import live_log
from tests.unit.whatif.test_replay import V1, _move_to_civil_affairs, _proposed, tourist_case
from whistle.cli import main
from whistle.config.versions import kind_document
from whistle.whatif.answer import answer
from whistle.whatif.cli import summary
from whistle.whatif.proposal import BadProposal, proposed_version, read_changes
from whistle.whatif.replay import Proposed
from whistle.whatif.report import html_report
from whistle.whatif.tally import Tally, replay_case


@pytest.mark.parametrize(
    ("since", "until", "lang", "words"),
    [
        ("yesterday", "2026-12-01T00:00+08:00", "zh", "时区"),
        ("2026-12-01T00:00", "2026-12-02T00:00+08:00", "en", "with a zone"),
        ("2026-12-02T00:00+08:00", "2026-12-01T00:00+08:00", "en", "before --until"),
        ("2026-12-02T00:00+08:00", "2026-12-01T00:00+08:00", "zh", "早于"),
    ],
)
def test_a_bad_range_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], since: str, until: str, lang: str, words: str
) -> None:
    code = main(["whatif", "--proposed", "1", "--since", since, "--until", until, "--lang", lang])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0 and words in err


def _answer() -> dict[str, object]:
    horizon = T0 + timedelta(hours=2)
    version = _proposed("routing", _move_to_civil_affairs)
    proposed = Proposed(version)
    proposed.enter()
    tally = Tally(since=T0 - timedelta(days=1), until=T0 + timedelta(days=1))
    replay_case(live_log(V1, tourist_case("K-CLI"), horizon), proposed, tally, horizon)
    return answer(tally, version, horizon)


def test_the_summary_shows_both_sides_and_what_moved_in_either_language() -> None:
    result = _answer()
    zh = "\n".join(summary(result, "zh"))  # type: ignore[arg-type]
    assert "响应率" in zh and "75.0%" in zh and "0.0%" in zh and "-75.0pt" in zh
    assert "改派案件 1 件" in zh and "civil_affairs +1" in zh
    en = "\n".join(summary(result, "en"))  # type: ignore[arg-type]
    assert "response rate" in en and "1 case(s) change departments" in en
    assert "92.5" in en  # the original score; the proposed one has no callback: —
    page = html_report(result, "en")  # type: ignore[arg-type]
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 3
    assert "<script" not in page and "civil_affairs" in page


def test_a_proposal_file_names_one_kind_or_holds_several(tmp_path: Path) -> None:
    """The export format, a bare document with ``--kind``, or the API's ``changes`` list; a
    list naming an unknown kind, or none, is refused with the message key."""
    export = tmp_path / "routing.json"
    export.write_text(json.dumps({"kind": "routing", "document": {"rules": []}}))
    assert read_changes(export, None) == [("routing", {"rules": []})]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"whistle": {}}))
    assert read_changes(bare, "policies") == [("policies", {"whistle": {}})]
    both = tmp_path / "both.json"
    changes = [{"kind": "routing", "document": {"rules": []}},
               {"kind": "policies", "document": {"whistle": {}}}]  # fmt: skip
    both.write_text(json.dumps({"changes": changes}))
    assert read_changes(both, None) == [("routing", {"rules": []}), ("policies", {"whistle": {}})]
    for wrong in ([{"kind": "weather", "document": {}}], [], [{"kind": "routing"}]):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"changes": wrong}))
        with pytest.raises(BadProposal) as refused:
            read_changes(bad, None)
        assert refused.value.key == "no_kind"


def test_changes_of_several_kinds_make_one_proposed_version() -> None:
    """Routing rules and SLA policies applied together to the base version; a document not of
    its kind's shape is refused naming that kind."""
    routing = kind_document(V1.document, "routing")
    routing["rules"] = [
        {**r, "lead": "civil_affairs", "supporting": []}
        if r["id"] == "tongan.datong.jinhai.tourist_crowds"
        else r
        for r in routing["rules"]
    ]
    policies = kind_document(V1.document, "policies")
    policies["whistle"]["clocks"]["general"]["resolve"]["within"] = "PT1H"
    version = proposed_version([("routing", routing), ("policies", policies)], V1, T0)
    assert version.version == V1.version + 1 and set(version.kinds) == {"routing", "policies"}
    assert version.document.policies["whistle"].clocks["general"]["resolve"].within == timedelta(
        hours=1
    )
    with pytest.raises(BadProposal) as refused:
        proposed_version([("routing", routing), ("policies", {"whistle": 3})], V1, T0)
    assert refused.value.key == "bad_document" and refused.value.values["kind"] == "policies"
