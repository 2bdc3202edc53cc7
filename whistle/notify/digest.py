"""The daily digest: a user's held notifications on one channel as one message."""

from __future__ import annotations

from collections.abc import Sequence

from whistle.notify.message import Message


def digest_message(messages: Sequence[Message], key: str) -> Message:
    """One message listing ``messages`` (each case id, headline and ask), the earliest
    deadline, and the first case's link; in the first message's language."""
    first = messages[0]
    zh = first.language == "zh"
    cases = list(dict.fromkeys(m.case_id for m in messages))
    deadlines = [m.deadline for m in messages if m.deadline is not None]
    sep = "；" if zh else "; "
    items = sep.join(f"{m.case_id} {m.headline}：{m.ask}" if zh else
                     f"{m.case_id} {m.headline}: {m.ask}" for m in messages)  # fmt: skip
    headline = (
        f"每日汇总：{len(messages)} 条通知" if zh else f"Daily digest: {len(messages)} notices"
    )
    return Message(
        kind=first.kind,
        case_id=", ".join(cases[:5]) + ("…" if len(cases) > 5 else ""),
        title=f"{len(cases)} 件案件" if zh else f"{len(cases)} cases",
        ask=items,
        headline=headline,
        deadline=min(deadlines) if deadlines else None,
        link=first.link,
        language=first.language,
        facts={},
        key=key,
    )
