"""`whistle config`: files of the packaged formats become documents; a diff becomes lines."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from whistle.config.cli import BadInput, diff_lines, read_document
from whistle.config.versions import kind_document
from whistle.domain.configuration import diff, packaged_configuration


class NoApi:
    """The API is only asked for the calendars in force, which these files do not need."""

    def call(self, *_: Any, **__: Any) -> Any:
        raise AssertionError("no API call expected")


def packaged(name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    path.write_text(resources.files("whistle.data").joinpath(name).read_text("utf-8"), "utf-8")
    return path


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("routing", "routing_rules.toml"),
        ("categories", "routing_rules.toml"),
        ("policies", "sla_policies.toml"),
        ("areas", "areas.toml"),
        ("departments", "departments.toml"),
    ],
)
def test_a_packaged_file_reads_as_the_kinds_document(kind: Any, name: str, tmp_path: Path) -> None:
    document = read_document(kind, packaged(name, tmp_path), NoApi(), "zh")  # type: ignore[arg-type]
    assert document == kind_document(packaged_configuration(), kind)


def test_a_bad_file_is_one_sentence_in_the_callers_language(tmp_path: Path) -> None:
    broken = tmp_path / "rules.toml"
    broken.write_text("version = ", encoding="utf-8")
    with pytest.raises(BadInput, match="不是有效的 routing 配置"):
        read_document("routing", broken, NoApi(), "zh")  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="cannot read"):
        read_document("routing", tmp_path / "missing.json", NoApi(), "en")  # type: ignore[arg-type]


def test_the_diff_in_lines() -> None:
    shipped = packaged_configuration()
    policies = shipped.policies["standard"].model_dump()
    policies["clocks"]["general"]["ack"]["within"] = "PT3H"
    changed = shipped.model_copy(
        update={"policies": {**shipped.policies, "standard": type(shipped.policies["standard"])
                             .model_validate(policies)}}
    )  # fmt: skip
    changes = diff(shipped, changed).model_dump(mode="json")
    assert diff_lines(changes, "zh") == ["时限变化 standard/general/ack：2h calendar → 3h calendar"]
    assert diff_lines(changes, "en") == ["budget standard/general/ack: 2h calendar → 3h calendar"]
    assert diff_lines(diff(shipped, shipped).model_dump(mode="json"), "en") == [
        "no change against the latest version"
    ]


@pytest.mark.parametrize(
    ("flag", "env", "lang"),
    [
        (None, {}, "zh"),
        (None, {"LANG": "en_US.UTF-8"}, "en"),
        (None, {"LANG": "zh_CN.UTF-8"}, "zh"),
        (None, {"WHISTLE_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ("zh", {"LANG": "en_US.UTF-8"}, "zh"),
        ("en", {}, "en"),
    ],
)
def test_the_language_is_chinese_unless_asked(
    flag: str | None, env: dict[str, str], lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from whistle.config.cli import _lang

    for name in ("LANG", "WHISTLE_LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _lang(argparse.Namespace(lang=flag)) == lang
