"""`whistle calendar import FILE` and `whistle calendar status`; publishing an imported year."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whistle.calendars.publish import proposed_configuration
from whistle.cli import main
from whistle.domain.configuration import CalendarYear, read_notice

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "calendars" / "cn-2027-provisional.toml"


def test_a_valid_notice_is_shown_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calendar", "import", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2027 年节假日安排校验通过：7 个节日，放假 29 天，调休上班 5 天")
    assert "临时（provisional）" in out
    assert "春节   2027-02-05 至 2027-02-13（9 天）；调休上班 2027-02-20（周六）" in out
    assert "新增 2027 年" in out and "未发布" in out


def test_a_valid_notice_in_english(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calendar", "import", str(SAMPLE), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The 2027 holiday notice is valid: 7 holidays, 29 days off")
    assert "Dragon Boat Festival 2027-06-09 to 2027-06-09 (1 day)" in out
    assert "adds 2027" in out and "Not published" in out


def test_the_validated_year_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calendar", "import", str(SAMPLE), "--json"]) == 0
    year = CalendarYear.model_validate_json(capsys.readouterr().out)
    assert year == read_notice(SAMPLE)[0]
    assert year.provisional and len(year.holidays) == 29


def test_a_packaged_year_imports_as_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "whistle" / "data" / "calendars" / "cn-2026.json"
    assert main(["calendar", "import", str(path)]) == 0
    assert "2026 年没有变化" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "zh", "en"),
    [
        (
            {"year": 2027, "holidays": [{"name": "x", "dates": ["2027-05-03"],
                                          "workdays": ["2027-05-06"]}]},
            "调休上班日 2027-05-06 是周四，不是周末",
            "make-up workday 2027-05-06 is a Thursday, not a weekend day",
        ),
        (
            {"year": 2027, "holidays": [{"name": "x", "from": "2027-05-05", "to": "2027-05-01"}]},
            "假期起始日 2027-05-05 晚于结束日 2027-05-01",
            "the holiday starts on 2027-05-05, after its last day 2027-05-01",
        ),
        ({"holidays": []}, "无法读取", "cannot be read"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: object, zh: str, en: str
) -> None:
    path = tmp_path / "notice.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    assert main(["calendar", "import", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("whistle calendar import：notice.json：") and zh in captured.err
    assert main(["calendar", "import", str(path), "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and en in err


def test_several_problems_are_counted_on_the_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "n.json"
    days = {"dates": ["2027-05-03"], "workdays": ["2027-05-03", "2027-05-04"]}
    path.write_text(json.dumps({"year": 2027, "holidays": [{"name": "x", **days}]}))
    assert main(["calendar", "import", str(path), "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.rstrip().endswith("(and 2 more)")


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calendar", "import", str(tmp_path / "none.toml")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_proposed_configuration_holds_the_year() -> None:
    year, _ = read_notice(SAMPLE)
    assert year is not None
    assert [y.year for y in proposed_configuration(year).calendar_years] == [2025, 2026, 2027]


def test_status_names_the_covered_years(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["calendar", "status", "--lang", "en"])
    out = capsys.readouterr().out
    assert out.startswith("Holiday calendar covers: 2025, 2026")
    # the packaged calendar ends with 2026: before its last 60 days "Covered until …", then
    # a warning; from 2027 on, "2027 has no holiday calendar" and exit status 1
    assert ("Covered until 2026-12-31" in out and code == 0) or (
        "2027 has no holiday calendar" in out and code == 1
    )
