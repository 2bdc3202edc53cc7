"""The console's words in Chinese (default) and English, and display helpers."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

from whistle.domain.rejections import CLOCK_NAMES, STATUS_NAMES

CHINA = timezone(timedelta(hours=8))

WORDS: dict[str, tuple[str, str]] = {
    "error": ("错误", "error"),
    "unreachable": ("无法连接 API", "cannot reach the API"),
    "no_token": (
        "缺少令牌：请设置 WHISTLE_TOKEN 或使用 --token",
        "no token: set WHISTLE_TOKEN or pass --token",
    ),
    "inbox_empty": ("收件箱为空：没有待办案件。", "The inbox is empty."),
    "case": ("案件", "Case"),
    "status": ("状态", "Status"),
    "title": ("事项", "Title"),
    "community": ("社区", "Community"),
    "within": ("小区/网格", "Compound / grid"),
    "raised": ("吹哨时间", "Raised"),
    "departments": ("部门", "Departments"),
    "lead": ("牵头", "lead"),
    "acked": ("已签收", "acknowledged"),
    "not_acked": ("未签收", "not acknowledged"),
    "clocks": ("时限", "Clocks"),
    "due": ("应完成", "due"),
    "breached": ("已超时", "breached"),
    "accepted": ("已受理", "accepted"),
    "duplicate": ("重复提交，已按首次处理", "duplicate: already applied"),
    "pending": ("已提交，结果稍后可查", "submitted; decision pending"),
    "ack_done": ("已签收 {case}", "Acknowledged {case}"),
    "dispute_done": ("已退单 {case}，等待督办裁定", "Disputed {case}; awaiting a ruling"),
    "progress_done": ("已记录进展 {case}", "Progress recorded on {case}"),
    "complete_done": ("已报告本部门完成 {case}", "Completion reported on {case}"),
    "resolve_done": ("已办结 {case}", "Resolved {case}"),
    "contact_done": ("已记录联系群众 {case}", "Contact with the requester recorded on {case}"),
    "joint_done": ("已安排集结 {action} {case}", "Joint action {action} scheduled on {case}"),
    "report_in_done": ("已报到 {action} {case}", "Reported in at {action} on {case}"),
    "assembled_done": (
        "已报到 {action} {case}：参加集结的部门已到齐",
        "Reported in at {action} on {case}: every department is there",
    ),
    "extension_done": (
        "已申请延期 {case}，等待督办审批",
        "Extension requested on {case}; awaiting a supervisor",
    ),
    "pause_done": ("已暂停计时 {case}", "Clocks paused on {case}"),
    "resume_done": ("已恢复计时 {case}", "Clocks resumed on {case}"),
    "bad_time": (
        "时间格式有误：{value}（例如 2026-12-05T09:00，默认北京时间）",
        "bad time {value} (e.g. 2026-12-05T09:00, China time unless an offset is given)",
    ),
    "description": ("描述", "Description"),
    "address": ("地址", "Address"),
    "location": ("位置", "Location"),
    "joint_actions": ("集结", "Joint actions"),
    "reported_in": ("已报到", "reported in"),
    "not_reported_in": ("未报到", "not reported in"),
    "assembled": ("已到齐", "assembled"),
    "board": ("超时督办看板", "Breach board"),
    "no_breaches": ("暂无超时。", "No breaches."),
    "disputes": ("待裁定退单", "Disputes awaiting a ruling"),
    "escalations": ("升级督办", "Escalations"),
    "updated": ("更新于", "updated"),
    "late": ("超时", "late"),
    "reconnecting": ("连接中断，2 秒后重连…", "connection lost; reconnecting in 2 s…"),
}

STATUSES = STATUS_NAMES
CLOCKS = CLOCK_NAMES
TIERS = {
    "community": ("社区", "community "),
    "street": ("街道", "street "),
    "district": ("区", "district "),
}
STEPS = {
    "reminder": ("催办", "reminder"),
    "supervision": ("督办", "supervision"),
    "public_notice": ("通报", "public notice"),
}


def say(key: str, lang: str, **values: object) -> str:
    """The word or sentence ``key`` in ``lang``."""
    zh, en = WORDS[key]
    return (en if lang == "en" else zh).format(**values)


def pick(table: dict[str, tuple[str, str]], code: str | None, lang: str) -> str:
    """A code's name from ``table``, or the code itself."""
    if not code:
        return "–"
    names = table.get(code)
    return (names[1] if lang == "en" else names[0]) if names else code


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int) -> str:
    """``text`` cut or padded to ``columns`` terminal columns."""
    out, used = "", 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > columns:
            break
        out, used = out + ch, used + w
    return out + " " * (columns - used)


def name_of(names: dict[str, Any], kind: str, code: str | None, lang: str) -> str:
    """The display name of a department or area code from ``/v1/names``, or the code."""
    entry = names.get(kind, {}).get(code or "")
    return str(entry.get(lang, code)) if entry else (code or "")


def parse_time(value: str) -> datetime | None:
    """``2026-12-05T09:00`` or ``2026-12-05 09:00`` (China time unless it carries an offset);
    None when it is not a time."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHINA)


def local_time(value: str | None) -> str:
    """An ISO timestamp as China time, ``MM-DD HH:MM``."""
    if not value:
        return "–"
    try:
        return datetime.fromisoformat(value).astimezone(CHINA).strftime("%m-%d %H:%M")
    except ValueError:
        return value


def ago(value: str | None, lang: str, now: datetime | None = None) -> str:
    """How long ago ``value`` was, e.g. ``2小时5分`` / ``2h 5m``."""
    if not value:
        return "–"
    then = datetime.fromisoformat(value)
    seconds = max(0, int(((now or datetime.now(CHINA)) - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if lang == "en":
        return (f"{days}d " if days else "") + (f"{hours}h " if hours else "") + f"{minutes}m"
    return (f"{days}天" if days else "") + (f"{hours}小时" if hours else "") + f"{minutes}分"
