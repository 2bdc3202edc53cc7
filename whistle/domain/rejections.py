"""Every rejection code with its message in Chinese and in English: the one catalogue.

A rejection carries a stable ``code`` and ``params``, a few strings (department codes, clock
keys, case ids). People read it rendered from the code's templates in their language, so the
decider's reply carries the code and the params, and the API, Open311, the console and the
dashboard all show :func:`render` of them. Param values that name something get its name in
the reader's language (a department, an area, a role, a status, a clock, a time); the rest are
shown as they are (identifiers). To add a code: one entry in ``MESSAGES`` whose placeholders
are the keyword params of every ``reject(...)`` that raises it (a unit test checks both).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone

from whistle.domain.areas import department_in_force, known_area
from whistle.domain.base import Command, Rejection

MESSAGES: dict[str, tuple[str, str]] = {
    # code: (Chinese template, English template)
    "case_not_found": (
        "案件 {case_id} 不存在，请先吹哨立案。",
        "No case {case_id}; raise a whistle first.",
    ),
    "case_exists": ("案件 {case_id} 已存在。", "Case {case_id} already exists."),
    "wrong_case": (
        "指令属于案件 {case_id}，不能用于案件 {state_case_id}。",
        "Command for {case_id}, state of {state_case_id}.",
    ),
    "unknown_command": ("未知的指令类型 {command}。", "Unknown command type {command}."),
    "role_not_allowed": (
        "{role}不能执行 {command}；可以执行的角色：{allowed}。",
        "The role {role} may not {command}; allowed: {allowed}.",
    ),
    "not_your_department": (
        "您代表{own_department}，不能代表{department}操作。",
        "You act for {own_department}, not for {department}.",
    ),
    "outside_your_area": (
        "{area}不在您的辖区（{own_area}）内。",
        "{area} is outside your area ({own_area}).",
    ),
    "unknown_area": (
        "{area}不是已知的社区，或不是所报社区的小区。",
        "{area} is not a known community, or not a compound of the community given.",
    ),
    "unknown_grid": (
        "{grid}不是{area}下的已知网格。",
        "{grid} is not a known grid of {area}.",
    ),
    "unknown_department": ("未知的部门：{departments}。", "Unknown department(s): {departments}."),
    "invalid_routing": (
        "派单有误：部门重复，或给未派单的部门设了时限：{departments}。",
        "Invalid routing: a department named twice, or a clock for one not routed: {departments}.",
    ),
    "already_routed": ("案件已派给{department}。", "The case is already routed to {department}."),
    "not_routed": ("案件尚未派单。", "The case has not been routed to any department yet."),
    "not_routed_to_department": (
        "该案件未派给{departments}；已派给：{routed}。",
        "The case is not routed to {departments}; routed to: {routed}.",
    ),
    "not_acknowledged": ("{department}须先签收。", "{department} must acknowledge (签收) first."),
    "dispute_pending": (
        "{department}的退单申请正在等待裁定。",
        "The dispute (退单) of {department} awaits a ruling.",
    ),
    "no_open_dispute": (
        "{department}没有待裁定的退单。",
        "{department} has no open dispute to rule on.",
    ),
    "department_already_assigned": (
        "{department}已在本案中。",
        "{department} is already assigned to this case.",
    ),
    "assignment_completed": (
        "{department}已报告完成，不能退单。",
        "{department} already reported its part completed, so it cannot dispute.",
    ),
    "already_completed": ("{department}已报告完成。", "{department} already reported completion."),
    "invalid_joint_action": (
        "集结安排有误：部门重复（{departments}）。",
        "A department appears twice in the joint action: {departments}.",
    ),
    "unknown_joint_action": ("没有集结行动 {action_id}。", "No joint action {action_id}."),
    "no_joint_action": ("本案尚未安排集结。", "No joint action (集结) is scheduled on this case."),
    "not_in_joint_action": (
        "{department}不在集结行动 {action_id} 中。",
        "{department} is not in joint action {action_id}.",
    ),
    "already_reported_in": (
        "{department}已于 {at} 报到（集结行动 {action_id}）。",
        "{department} already reported in to joint action {action_id} at {at}.",
    ),
    "joint_action_incomplete": (
        "参加集结的部门尚未全部报告完成，不能办结：{departments}。",
        "Joint-action departments have not reported completion: {departments}.",
    ),
    "case_resolved": ("案件已办结。", "The case is already resolved (办结)."),
    "case_finished": (
        "案件状态为“{status}”，不能再操作。",
        "The case is {status}; nothing more can be done.",
    ),
    "callback_before_resolution": (
        "案件办结后才能回访。",
        "A callback (回访) comes after the case is resolved.",
    ),
    "callback_missing": ("请先完成回访。", "Record the callback (回访) first."),
    "not_resolved": (
        "案件尚未办结（当前状态：{status}）。",
        "The case is not resolved yet (it is {status}).",
    ),
    "reopen_not_warranted": (
        "回访结果不支持重新办理：问题已解决且群众满意，或并非部门的责任。",
        "The callback found the case solved and satisfying, or not the department's fault.",
    ),
    "already_published": ("案件已公示（晒事）。", "The case is already published."),
    "self_duplicate": ("案件不能与自身重复。", "A case cannot duplicate itself."),
    "duplicate_of_unknown_case": (
        "案件 {original} 不存在或不在您的权限范围内，不能作为原案件。",
        "No case {original} in your scope to be the original.",
    ),
    "duplicate_of_duplicate": (
        "案件 {original} 本身已被标记为重复，请改为标记为其原案件的重复。",
        "Case {original} is itself a duplicate; mark this case a duplicate of its original.",
    ),
    "case_has_duplicates": (
        "已有案件被标记为本案的重复，本案不能再标记为重复；"
        "可改为将案件 {original} 标记为本案的重复。",
        "Other cases duplicate this one, so it cannot become a duplicate; "
        "mark {original} a duplicate of this case instead.",
    ),
    "clock_not_found": ("本案没有{clock}。", "No {clock} on this case."),
    "clock_met": ("{clock}已达成。", "{clock} is already met."),
    "clock_not_running": ("{clock}未在计时。", "{clock} is not running."),
    "clock_not_paused": ("{clock}未暂停。", "{clock} is not paused."),
    "no_running_clock": ("没有正在计时的时限。", "No running clock to pause."),
    "no_paused_clock": ("没有已暂停的时限。", "No paused clock to resume."),
    "extension_after_deadline": (
        "{clock}已到期：延期须在到期前申请。",
        "{clock} is due: an extension (延期) must be asked in time.",
    ),
    "extension_pending": (
        "{clock}已有延期申请在等待审批。",
        "An extension request on {clock} awaits a decision.",
    ),
    "extension_not_later": (
        "延期后的时限必须晚于当前时限（{due_at}）。",
        "The new due time must be later than the current one ({due_at}).",
    ),
    "no_extension_request": ("{clock}没有待审批的延期申请。", "No extension request on {clock}."),
    "photo_stage_role": (
        "{role}不能在“{stage}”环节附图；可以附图的角色：{allowed}。",
        "The role {role} may not attach {stage} photos; allowed: {allowed}.",
    ),
    "photo_stage_closed": (
        "案件状态为“{status}”，不能附“{stage}”照片。",
        "The case is {status}: no {stage} photos now.",
    ),
    "photos_already_attached": (
        "这些照片已附在“{stage}”环节。",
        "These photos are already attached as {stage} photos.",
    ),
    "too_many_photos": (
        "“{stage}”环节最多附 {limit} 张照片，已附 {attached} 张。",
        "At most {limit} {stage} photos; {attached} are attached already.",
    ),
}
"""Rejection code → (Chinese, English) template; ``{name}`` is the rejection's param ``name``."""

MISSING = "…"
"""Shown for a placeholder whose param the rejection lacks (a reply from an older decider)."""

ROLE_NAMES: dict[str, tuple[str, str]] = {
    "secretary": ("社区书记", "secretary"),
    "liaison": ("部门联络员", "liaison"),
    "supervisor": ("督办人员", "supervisor"),
    "admin": ("管理员", "admin"),
    "system": ("系统", "system"),
}
STATUS_NAMES: dict[str, tuple[str, str]] = {
    "raised": ("已吹哨", "raised"),
    "routed": ("已派单", "routed"),
    "in_progress": ("办理中", "in progress"),
    "resolved": ("已办结", "resolved"),
    "closed": ("已关闭", "closed"),
    "withdrawn": ("已撤回", "withdrawn"),
    "duplicate": ("重复", "duplicate"),
}
"""Case status → (Chinese, English) name."""
CLOCK_NAMES: dict[str, tuple[str, str]] = {
    "ack": ("签收", "acknowledge"),
    "contact": ("联系", "contact"),
    "joint_action": ("集结", "joint action"),
    "resolve": ("办结", "resolve"),
}
"""Clock kind → (Chinese, English) name."""
STAGE_NAMES: dict[str, tuple[str, str]] = {
    "raise": ("吹哨", "whistle"),
    "progress": ("办理", "progress"),
    "resolution": ("办结", "resolution"),
    "publish": ("晒事", "publication"),
}
"""Photo stage (``AttachPhotos``) → (Chinese, English) name."""

CHINA = timezone(timedelta(hours=8))


def _pick(names: tuple[str, str], lang: str) -> str:
    return names[1] if lang == "en" else names[0]


def _department(code: str, lang: str) -> str:
    found = department_in_force(code)
    return _pick((found.name_zh, found.name_en), lang) if found else code


def _area(code: str, lang: str) -> str:
    found = known_area(code)
    return _pick((found.name_zh, found.name_en), lang) if found else code


def _named(table: dict[str, tuple[str, str]]) -> Callable[[str, str], str]:
    return lambda code, lang: _pick(table[code], lang) if code in table else code


def _clock(key: str, lang: str) -> str:
    """``ack:transport~1`` → 交通运输局签收时限 / Transport Bureau's acknowledge clock."""
    kind, _, department = key.partition(":")
    department = department.split("~", 1)[0]
    if kind not in CLOCK_NAMES or ":" in department or not department:
        return key
    name, what = _department(department, lang), _pick(CLOCK_NAMES[kind], lang)
    return f"{name}'s {what} clock" if lang == "en" else f"{name}{what}时限"


def _time(value: str, lang: str) -> str:
    """An ISO time as China time, ``2026-11-20 17:00``."""
    try:
        return datetime.fromisoformat(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


NAMERS: dict[str, Callable[[str, str], str]] = {
    "department": _department,
    "own_department": _department,
    "departments": _department,
    "routed": _department,
    "area": _area,
    "own_area": _area,
    "role": _named(ROLE_NAMES),
    "allowed": _named(ROLE_NAMES),
    "status": _named(STATUS_NAMES),
    "stage": _named(STAGE_NAMES),
    "clock": _clock,
    "due_at": _time,
    "at": _time,
}
"""Param name → how its value is shown; params not listed are shown as given."""

LISTS = frozenset({"departments", "routed", "allowed"})
"""Params holding several values, joined by ", " (see :func:`joined`)."""


def joined(values: Iterable[str]) -> str:
    """A list param's value: the items joined by ", "."""
    return ", ".join(values)


class _Shown(dict[str, str]):
    """The params as shown in one language; a missing one shows as ``MISSING``."""

    def __missing__(self, key: str) -> str:
        return MISSING


def _show(name: str, value: str, lang: str) -> str:
    namer = NAMERS.get(name)
    if namer is None:
        return value
    if name in LISTS:
        return ("、" if lang != "en" else ", ").join(namer(v, lang) for v in value.split(", "))
    return namer(value, lang)


def render(code: str, params: Mapping[str, str], lang: str) -> str | None:
    """The message of rejection ``code`` in ``lang`` (``en``, else Chinese); None if unknown."""
    texts = MESSAGES.get(code)
    if texts is None:
        return None
    shown = _Shown({k: _show(k, str(v), lang) for k, v in params.items()})
    return _pick(texts, lang).format_map(shown)


def rejection(command: Command, code: str, /, **params: str) -> Rejection:
    """The rejection of ``command`` with ``code`` and ``params``, its messages rendered."""
    return Rejection(
        code=code,
        params=params,
        message=render(code, params, "en") or code,
        command_id=command.command_id,
        case_id=command.case_id,
        message_zh=render(code, params, "zh"),
    )
