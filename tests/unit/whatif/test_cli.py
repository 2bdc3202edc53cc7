"""``whistle whatif`` before it reaches Kafka: one-line errors in the caller's language, and
the summary table of an answer (zh by default, en on request)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.stories import T0
from tests.unit.whatif.live_log import live_log
from tests.unit.whatif.test_replay import V1, _move_to_civil_affairs, _proposed, tourist_case
from whistle.cli import main
from whistle.whatif.answer import answer
from whistle.whatif.cli import summary
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
