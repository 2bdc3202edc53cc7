"""The zh (default) and en texts of every notification kind: a headline and what is asked.

Each kind names the facts it needs (``REQUIRED``); coded facts (a clock, an escalation step,
a tier, a role…) are translated here, free-text facts (a place, a department's name) are
used as given. Deadlines and times are written in China time (UTC+8, no daylight saving).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")

REQUIRED: dict[str, tuple[str, ...]] = {
    "assigned": ("role",),
    "deadline_approaching": ("clock", "percent"),
    "deadline_breached": ("clock",),
    "escalated": ("step", "tier"),
    "dispute_raised": ("department", "reason"),
    "dispute_ruled": ("outcome",),
    "joint_action_scheduled": ("time", "place", "report_in"),
    "joint_action_moved": ("time", "place", "report_in"),
    "reopened": (),
    "extension_requested": ("department", "clock", "until"),
    "extension_decided": ("decision", "clock"),
}

CODES: dict[str, dict[str, dict[str, str]]] = {
    "role": {
        "lead": {"zh": "牵头（首接负责）", "en": "lead (first responsible)"},
        "supporting": {"zh": "配合", "en": "supporting"},
    },
    "clock": {
        "ack": {"zh": "签收", "en": "acknowledge"},
        "contact": {"zh": "联系群众", "en": "contact the requester"},
        "joint_action": {"zh": "集结", "en": "joint action"},
        "resolve": {"zh": "办结", "en": "resolve"},
    },
    "step": {
        "reminder": {"zh": "催办", "en": "reminder (催办)"},
        "supervision": {"zh": "督办", "en": "supervision (督办)"},
        "public_notice": {"zh": "通报", "en": "public notice (通报)"},
    },
    "tier": {
        "community": {"zh": "社区", "en": "the community"},
        "street": {"zh": "街道", "en": "the street office"},
        "district": {"zh": "区级", "en": "the district"},
    },
    "reason": {
        "wrong_function": {"zh": "不属本部门职能", "en": "not this department's function"},
        "wrong_place": {"zh": "不属本辖区", "en": "outside this department's area"},
        "unclear_ownership": {"zh": "权属不清", "en": "ownership unclear"},
        "other": {"zh": "其他", "en": "other"},
    },
    "outcome": {
        "uphold": {"zh": "维持原派单", "en": "routing upheld"},
        "reassign": {"zh": "改派", "en": "reassigned"},
    },
    "decision": {
        "granted": {"zh": "已批准", "en": "granted"},
        "refused": {"zh": "未批准", "en": "refused"},
    },
}

HEADLINES: dict[str, dict[str, str]] = {
    "assigned": {"zh": "新案件待签收（{role}）", "en": "New case for you ({role})"},
    "deadline_approaching": {
        "zh": "「{clock}」时限已用{percent}%",
        "en": "{percent}% of the '{clock}' time used",
    },
    "deadline_breached": {"zh": "「{clock}」已超时", "en": "'{clock}' deadline missed"},
    "escalated": {"zh": "{tier}{step}", "en": "{step} by {tier}"},
    "dispute_raised": {"zh": "退单待裁定", "en": "Dispute to rule on"},
    "dispute_ruled": {"zh": "退单裁定：{outcome}", "en": "Dispute ruled: {outcome}"},
    "joint_action_scheduled": {"zh": "集结通知", "en": "Joint action scheduled"},
    "joint_action_moved": {"zh": "集结时间地点变更", "en": "Joint action moved"},
    "reopened": {"zh": "回访不满意，案件重新办理", "en": "Callback unsatisfied: case reopened"},
    "extension_requested": {"zh": "延期申请待审批", "en": "Extension request to decide"},
    "extension_decided": {
        "zh": "延期申请{decision}",
        "en": "Extension request {decision}",
    },
}

ASKS: dict[str, dict[str, str]] = {
    "assigned": {
        "zh": "在期限前签收，并按职责办理",
        "en": "acknowledge before the deadline and act on your part",
    },
    "deadline_approaching": {
        "zh": "在期限前完成「{clock}」",
        "en": "complete '{clock}' before the deadline",
    },
    "deadline_breached": {
        "zh": "立即完成「{clock}」并说明超时原因",
        "en": "complete '{clock}' now and explain the delay",
    },
    "escalated": {
        "zh": "按{step}要求立即办理并反馈",
        "en": "act now and report back as the {step} requires",
    },
    "dispute_raised": {
        "zh": "裁定{department}的退单（理由：{reason}）",
        "en": "rule on the dispute of {department} (reason: {reason})",
    },
    "dispute_ruled": {
        "zh": "按裁定结果办理：{outcome}",
        "en": "act on the ruling: {outcome}",
    },
    "joint_action_scheduled": {
        "zh": "于{time}到{place}集结，到场后报到：{report_in}",
        "en": "join at {place} at {time} and report in on arrival: {report_in}",
    },
    "joint_action_moved": {
        "zh": "改于{time}到{place}集结，到场后报到：{report_in}",
        "en": "join at {place} at {time} instead and report in on arrival: {report_in}",
    },
    "reopened": {
        "zh": "重新办理并再次联系群众",
        "en": "work on the case again and contact the requester again",
    },
    "extension_requested": {
        "zh": "审批{department}将「{clock}」延至{until}的申请",
        "en": "decide on {department}'s request to extend '{clock}' to {until}",
    },
    "extension_decided": {
        "zh": "按新的期限完成「{clock}」",
        "en": "complete '{clock}' by the deadline below",
    },
}


def local_time(when: datetime, language: str) -> str:
    """``when`` in China time: ``2026年12月2日 14:30`` / ``2 Dec 2026 14:30 (UTC+8)``."""
    if when.tzinfo is None:
        raise ValueError("a notification time must be timezone-aware")
    local = when.astimezone(CHINA)
    if language == "zh":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%b %Y %H:%M} (UTC+8)"


def check_facts(kind: str, facts: Mapping[str, str]) -> None:
    """Raise ValueError when a fact the kind needs is missing or a coded fact is unknown."""
    missing = [name for name in REQUIRED[kind] if not facts.get(name)]
    if missing:
        raise ValueError(f"{kind}: missing facts {', '.join(missing)}")
    for name, value in facts.items():
        if name in CODES and value not in CODES[name]:
            raise ValueError(f"{kind}: unknown {name} {value!r}")
    percent = facts.get("percent", "50")
    if kind == "deadline_approaching" and not (percent.isdigit() and 0 < int(percent) < 100):
        raise ValueError("deadline_approaching: percent is a whole number from 1 to 99")


def _values(facts: Mapping[str, str], language: str) -> dict[str, str]:
    return {
        name: CODES[name][value][language] if name in CODES else value
        for name, value in facts.items()
    }


def headline_for(kind: str, language: str, facts: Mapping[str, str]) -> str:
    """The kind's headline in ``language``."""
    return HEADLINES[kind][language].format_map(_values(facts, language))


def ask_for(kind: str, language: str, facts: Mapping[str, str]) -> str:
    """What the recipient is asked to do, in ``language``."""
    return ASKS[kind][language].format_map(_values(facts, language))
