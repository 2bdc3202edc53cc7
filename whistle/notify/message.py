"""What a notification says, before any channel formats it: a :class:`Message`.

A message is built for one recipient in one language from whitelisted facts of the case only:
its id, its title (scrubbed of personal data), what the recipient is asked to do, by when, and
a link to the case page. The requester's name and phone are never among its fields; a title or
place typed with a phone number or the requester's name in it is scrubbed
(:func:`scrub`), because messages leave the system (mail boxes, group chats, SMS) and a group
chat is read by more people than the liaison who may see the case's contact data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from whistle.notify.templates import ask_for, check_facts, headline_for, local_time

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

MessageKind = Literal[
    "assigned",  # new assignment (lead or supporting)
    "deadline_approaching",  # 50 % / 80 % of a clock used
    "deadline_breached",
    "escalated",  # 催办 / 督办 / 通报
    "dispute_raised",  # a department disputes its routing (退单): to whoever rules
    "dispute_ruled",  # uphold / reassign: to the disputing and the new department
    "joint_action_scheduled",  # 集结: time, place, report-in link
    "joint_action_moved",
    "reopened",  # unsatisfied callback (回访不满意) → reopened
    "extension_requested",  # to whoever decides
    "extension_decided",  # granted / refused: to the department that asked
]
KINDS: tuple[str, ...] = MessageKind.__args__  # type: ignore[attr-defined]

REDACTED = "***"
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)")
_ID_CARD = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def scrub(text: str, known: Iterable[str | None] = ()) -> str:
    """``text`` without phone numbers (mobile, landline), ID-card numbers, e-mail addresses and
    the ``known`` personal strings (the requester's name and phone), each replaced by ***."""
    for value in sorted({v.strip() for v in known if v and v.strip()}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern in (_ID_CARD, _MOBILE, _LANDLINE, _EMAIL):
        text = pattern.sub(REDACTED, text)
    return text


@dataclass(frozen=True)
class CaseFacts:
    """What a notification may tell about a case: no requester, no description, no address."""

    case_id: str
    title: str
    category: str = ""
    community: str = ""

    @classmethod
    def from_raised(cls, raised: Mapping[str, Any]) -> CaseFacts:
        """The facts of a ``WhistleRaised`` event (its JSON), scrubbed of the requester."""
        requester = raised.get("requester") or {}
        known = [requester.get("name"), requester.get("phone")]
        return cls(
            case_id=str(raised["case_id"]),
            title=scrub(str(raised.get("title") or ""), known),
            category=str(raised.get("category") or ""),
            community=str(raised.get("community") or ""),
        )


@dataclass(frozen=True)
class Message:
    """One notification for one recipient, in the recipient's language.

    ``ask`` (what the recipient is asked to do) and ``headline`` come from the templates of
    ``kind`` in ``language``; ``facts`` are the kind's own values (the clock, the escalation
    step, a joint action's time and place…), checked against the template when created.
    """

    kind: MessageKind
    case_id: str
    title: str
    ask: str
    headline: str
    deadline: datetime | None
    link: str
    language: Language = "zh"
    facts: Mapping[str, str] = field(default_factory=dict)
    key: str | None = None
    """Idempotency key of this notification (event, recipient, channel), when the caller has
    one: e-mail derives its Message-ID from it and SMS sends it as the provider's ``OutId``,
    so that a redelivered message is recognisably the same one."""

    @classmethod
    def create(
        cls,
        kind: MessageKind,
        case: CaseFacts,
        link: str,
        deadline: datetime | None = None,
        language: Language = "zh",
        known_personal: Iterable[str | None] = (),
        key: str | None = None,
        **facts: str | int | datetime,
    ) -> Message:
        """The message of ``kind`` about ``case``; times among the facts are written in the
        language, free-text facts are scrubbed as well."""
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r}")
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        known = list(known_personal)
        clean = {
            k: scrub(local_time(v, language) if isinstance(v, datetime) else str(v), known)
            for k, v in facts.items()
        }
        check_facts(kind, clean)
        title = scrub(case.title, known)
        return cls(
            kind=kind,
            case_id=case.case_id,
            title=title,
            ask=ask_for(kind, language, clean),
            headline=headline_for(kind, language, clean),
            deadline=deadline,
            link=link,
            language=language,
            facts=clean,
            key=key,
        )

    @property
    def deadline_text(self) -> str:
        """The deadline in China time, as the language writes it (or 'none')."""
        if self.deadline is None:
            return "无" if self.language == "zh" else "none"
        return local_time(self.deadline, self.language)

    @property
    def subject(self) -> str:
        """A one-line subject: headline, case id and title."""
        if self.language == "zh":
            return f"【吹哨】{self.headline}｜{self.case_id}｜{self.title}"
        return f"[Whistle] {self.headline} | {self.case_id} | {self.title}"

    def lines(self) -> list[tuple[str, str]]:
        """The labelled lines every channel shows: case, title, ask, deadline, link."""
        labels = _LABELS[self.language]
        return [
            (labels["case"], self.case_id),
            (labels["title"], self.title),
            (labels["ask"], self.ask),
            (labels["deadline"], self.deadline_text),
            (labels["link"], self.link),
        ]

    def text(self) -> str:
        """Plain text (e-mail body, robots' text messages)."""
        sep = "：" if self.language == "zh" else ": "
        return "\n".join([self.headline, *(f"{k}{sep}{v}" for k, v in self.lines())])

    def markdown(self) -> str:
        """Markdown for chat robots (the subset WeCom and DingTalk render: bold, links)."""
        sep = "：" if self.language == "zh" else ": "
        labels = _LABELS[self.language]
        rows = [f"**{self.headline}**", ""]
        for label, value in self.lines():
            if label == labels["link"]:
                value = f"[{labels['open']}]({self.link})"
            rows.append(f"> {label}{sep}{value}")
        return "\n".join(rows)


_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "case": "案件编号",
        "title": "事项",
        "ask": "请您",
        "deadline": "办理期限",
        "link": "案件页面",
        "open": "打开案件",
    },
    "en": {
        "case": "Case",
        "title": "Subject",
        "ask": "Asked of you",
        "deadline": "Deadline",
        "link": "Case page",
        "open": "Open the case",
    },
}


def case_link(template: str, case_id: str) -> str:
    """The case page URL from ``WHISTLE_NOTIFY_CASE_URL`` (``{case_id}`` replaced)."""
    return template.replace("{case_id}", case_id)
