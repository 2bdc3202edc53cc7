"""The actors and commands of a story: a 金海 whistle's commands with fresh ids, and a whole
lifecycle as a command script (``lifecycle_script``, which the domain benchmark replays)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta
from typing import Any

from whistle.domain import (
    Acknowledge,
    Actor,
    CloseCase,
    Command,
    ContactRequester,
    DisputeAssignment,
    Escalate,
    GrantExtension,
    MarkDuplicate,
    PauseClock,
    PublishCase,
    RaiseWhistle,
    RecordCallback,
    RefuseExtension,
    ReopenCase,
    ReportCompletion,
    ReportIn,
    ReportProgress,
    RequestExtension,
    ResolveCase,
    ResumeClock,
    RuleOnDispute,
    ScheduleJointAction,
    WithdrawCase,
    decide,
    fold,
    load_rules,
    route,
)
from whistle.domain.calendar import shanghai
from whistle.domain.steps.attach import AttachPhotos, Photo

TZ = shanghai()
T0 = datetime(2025, 9, 22, 9, 0, tzinfo=TZ)  # a Monday
JINHAI = "tongan.datong.jinhai"
CASE = "K-0001"
LEAD = "urban_management"  # the jinhai tourist-crowds rule: lead 城管
SUPPORT = ("public_security", "transport", "culture_tourism")

SECRETARY = Actor(user_id="sec-jinhai", role="secretary", area=JINHAI)
SUPERVISOR = Actor(user_id="sup-datong", role="supervisor", area="tongan.datong")
ADMIN = Actor(user_id="admin", role="admin")

_ids = itertools.count(1)


def cid(prefix: str = "cmd") -> str:
    """A fresh command id."""
    return f"{prefix}-{next(_ids)}"


def liaison(department: str) -> Actor:
    """The liaison (部门联络员) of ``department``."""
    return Actor(user_id=f"liaison-{department}", role="liaison", department=department)


def raise_whistle(case_id: str = CASE, **fields: Any) -> RaiseWhistle:
    """A whistle about tourist crowds on 金海社区's coastal promenade."""
    values: dict[str, Any] = {
        "community": JINHAI,
        "category": "tourist_crowds",
        "title": "滨海浪漫线游客激增，占道停车",
        "description": "周末人流激增，社区无法独自处理",
        "address": "同安区滨海旅游浪漫线金海段",
        "urgency": "general",
        "requester": {"name": "陈女士", "phone": "13800000000"},
    }
    values.update(fields)
    actor = values.pop("actor", SECRETARY)
    return RaiseWhistle(command_id=cid("raise"), case_id=case_id, actor=actor, **values)


def ack(dept: str, case_id: str = CASE, **kw: Any) -> Acknowledge:
    """签收 by ``dept``."""
    return Acknowledge(
        command_id=kw.pop("command_id", cid("ack")),
        case_id=case_id,
        actor=kw.pop("actor", liaison(dept)),
        department=dept,
    )


def dispute(dept: str, case_id: str = CASE) -> DisputeAssignment:
    """退单 by ``dept``: wrong function."""
    return DisputeAssignment(
        command_id=cid("dispute"),
        case_id=case_id,
        actor=liaison(dept),
        department=dept,
        reason="wrong_function",
        text="游客疏导不属于本部门职能",
    )


def rule(dept: str, new: str | None = None, case_id: str = CASE) -> RuleOnDispute:
    """A supervisor's ruling: reassign to ``new`` or uphold."""
    return RuleOnDispute(
        command_id=cid("rule"),
        case_id=case_id,
        actor=SUPERVISOR,
        department=dept,
        outcome="reassign" if new else "uphold",
        new_department=new,
        reason="按职能清单",
    )


def contact(dept: str, case_id: str = CASE) -> ContactRequester:
    """First contact with the requester by ``dept``."""
    return ContactRequester(
        command_id=cid("contact"), case_id=case_id, actor=liaison(dept), department=dept
    )


def joint(depts: tuple[str, ...], at: datetime, by: Actor = SECRETARY) -> ScheduleJointAction:
    """集结 of ``depts`` at ``at``."""
    return ScheduleJointAction(
        command_id=cid("joint"),
        case_id=CASE,
        actor=by,
        at=at,
        place="滨海浪漫线金海段",
        departments=depts,
    )


def report_in(dept: str, action_id: str | None = None, **kw: Any) -> ReportIn:
    """报到 by ``dept`` at a joint action (default: the latest naming it)."""
    return ReportIn(
        command_id=cid("report-in"),
        case_id=CASE,
        actor=kw.pop("actor", liaison(dept)),
        department=dept,
        action_id=action_id,
    )


def photo(n: int = 1, content_type: str = "image/jpeg") -> Photo:
    """A stored photo: the SHA-256 of some bytes, their size and type."""
    data = f"photo {n}".encode()
    return Photo(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data) * 1000,
        content_type=content_type,  # type: ignore[arg-type]
    )


def attach(stage: str, actor: Actor, *photos: Photo, department: str | None = None) -> AttachPhotos:
    """附图: ``photos`` (default: one) attached at ``stage`` by ``actor``."""
    return AttachPhotos(
        command_id=cid("attach"),
        case_id=CASE,
        actor=actor,
        stage=stage,  # type: ignore[arg-type]
        photos=photos or (photo(),),
        department=department if department is not None else actor.department,
    )


def progress(dept: str) -> ReportProgress:
    """A progress note by ``dept``."""
    return ReportProgress(
        command_id=cid("progress"), case_id=CASE, actor=liaison(dept), department=dept, note="巡查"
    )


def complete(dept: str) -> ReportCompletion:
    """``dept`` reports its part done."""
    return ReportCompletion(
        command_id=cid("done"), case_id=CASE, actor=liaison(dept), department=dept, summary="完成"
    )


def resolve(dept: str = LEAD) -> ResolveCase:
    """办结 by the lead's liaison."""
    return ResolveCase(
        command_id=cid("resolve"),
        case_id=CASE,
        actor=liaison(dept),
        outcome="solved",
        summary="设置临时停车区并安排疏导",
    )


def callback(solved: bool = True, satisfied: bool = True, **kw: Any) -> RecordCallback:
    """回访 by the secretary."""
    return RecordCallback(
        command_id=cid("callback"),
        case_id=CASE,
        actor=SECRETARY,
        solved=solved,
        satisfied=satisfied,
        score=kw.pop("score", 5 if satisfied else 2),
        **kw,
    )


def reopen() -> ReopenCase:
    """Reopen after an unsatisfying callback."""
    return ReopenCase(command_id=cid("reopen"), case_id=CASE, actor=SECRETARY, reason="问题反弹")


def close() -> CloseCase:
    """Close after evaluation."""
    return CloseCase(command_id=cid("close"), case_id=CASE, actor=SECRETARY)


def withdraw() -> WithdrawCase:
    """The community withdraws."""
    return WithdrawCase(
        command_id=cid("withdraw"), case_id=CASE, actor=SECRETARY, reason="已自行解决"
    )


def duplicate(original: str) -> MarkDuplicate:
    """Mark as duplicate of ``original``."""
    return MarkDuplicate(
        command_id=cid("dup"), case_id=CASE, actor=SUPERVISOR, original_case_id=original
    )


def request_ext(dept: str, until: datetime, clock: str = "resolve") -> RequestExtension:
    """延期 request by ``dept``."""
    return RequestExtension(
        command_id=cid("ext"),
        case_id=CASE,
        actor=liaison(dept),
        department=dept,
        clock=clock,  # type: ignore[arg-type]
        until=until,
        reason="需协调产权单位",
    )


def grant(key: str, until: datetime | None = None) -> GrantExtension:
    """A supervisor grants the extension on ``key``."""
    return GrantExtension(
        command_id=cid("grant"), case_id=CASE, actor=SUPERVISOR, clock_key=key, until=until
    )


def refuse(key: str) -> RefuseExtension:
    """A supervisor refuses the extension on ``key``."""
    return RefuseExtension(
        command_id=cid("refuse"), case_id=CASE, actor=SUPERVISOR, clock_key=key, reason="理由不足"
    )


def pause(*keys: str, by: Actor | None = None) -> PauseClock:
    """Pause clocks (all running when no keys) waiting for the requester."""
    return PauseClock(
        command_id=cid("pause"),
        case_id=CASE,
        actor=by or liaison(LEAD),
        clock_keys=keys,
        reason="等待群众补充材料",
    )


def resume(*keys: str, by: Actor | None = None) -> ResumeClock:
    """Resume paused clocks."""
    return ResumeClock(
        command_id=cid("resume"), case_id=CASE, actor=by or liaison(LEAD), clock_keys=keys
    )


def escalate(step: str = "supervision", tier: str = "street") -> Escalate:
    """A supervisor's manual escalation."""
    return Escalate(
        command_id=cid("escalate"),
        case_id=CASE,
        actor=SUPERVISOR,
        step=step,  # type: ignore[arg-type]
        tier=tier,  # type: ignore[arg-type]
        reason="群众反映强烈",
    )


def publish() -> PublishCase:
    """晒事."""
    return PublishCase(command_id=cid("publish"), case_id=CASE, actor=SECRETARY, summary="已公示")


def lifecycle_script(case_id: str) -> list[tuple[Command, datetime]]:
    """A whole lifecycle (≈15 commands) of one whistle in 金海社区, with times."""
    raise_cmd = RaiseWhistle(
        command_id=f"{case_id}:raise",
        case_id=case_id,
        actor=SECRETARY,
        community="tongan.datong.jinhai",
        category="tourist_crowds",
        title="滨海浪漫线游客激增",
        address="滨海旅游浪漫线",
    )
    raised = decide(None, raise_cmd, T0)
    assert isinstance(raised, list)
    state = fold(raised)
    assert state is not None
    routing = route(load_rules(), state, T0)
    lead, supporting = routing.lead, routing.supporting
    script: list[Command] = [raise_cmd, routing]
    script += [
        Acknowledge(
            command_id=f"{case_id}:ack:{d}", case_id=case_id, actor=liaison(d), department=d
        )
        for d in (lead, *supporting)
    ]
    script += [
        ContactRequester(
            command_id=f"{case_id}:contact", case_id=case_id, actor=liaison(lead), department=lead
        ),
        ScheduleJointAction(
            command_id=f"{case_id}:ja",
            case_id=case_id,
            actor=liaison(lead),
            at=T0 + timedelta(hours=5),
            place="滨海浪漫线",
            departments=(lead, supporting[0]),
        ),
        PauseClock(
            command_id=f"{case_id}:pause",
            case_id=case_id,
            actor=liaison(lead),
            reason="waiting for the requester",
        ),
        ResumeClock(command_id=f"{case_id}:resume", case_id=case_id, actor=liaison(lead)),
        ReportProgress(
            command_id=f"{case_id}:progress",
            case_id=case_id,
            actor=liaison(supporting[0]),
            department=supporting[0],
            note="联合执法完成",
        ),
        ReportCompletion(
            command_id=f"{case_id}:done",
            case_id=case_id,
            actor=liaison(supporting[0]),
            department=supporting[0],
            summary="疏导完成",
        ),
        ResolveCase(
            command_id=f"{case_id}:resolve",
            case_id=case_id,
            actor=liaison(lead),
            outcome="solved",
            summary="秩序恢复",
        ),
        RecordCallback(
            command_id=f"{case_id}:callback",
            case_id=case_id,
            actor=SECRETARY,
            solved=True,
            satisfied=True,
            score=5,
        ),
        CloseCase(command_id=f"{case_id}:close", case_id=case_id, actor=SECRETARY),
    ]
    return [(cmd, T0 + timedelta(minutes=i)) for i, cmd in enumerate(script)]
