"""Vocabulary shared by commands, events and state: the closed sets of codes the users speak."""

from __future__ import annotations

from typing import Literal

Urgency = Literal["emergency", "utilities", "general", "complex"]
"""Urgency class: 紧急 (2 h), 水电气热 (24 h), 一般 (7 days), 复杂 (15 days) by default."""

Channel = Literal["whistle", "hotline", "open311", "app"]
"""How the case came in: a community whistle (吹哨), the 12345 hotline, an Open311 app, our app."""

ClockKind = Literal["ack", "contact", "joint_action", "resolve"]
"""The SLA clocks: acknowledge (签收), first contact, joint action (集结), resolve (办结)."""

ClockMode = Literal["calendar", "working"]
"""Time counted 7×24 or on the business calendar (working hours, holidays, 调休)."""

CaseStatus = Literal[
    "raised", "routed", "in_progress", "resolved", "closed", "withdrawn", "duplicate"
]
"""Where a case is in its lifecycle; closed, withdrawn and duplicate are final."""

FINAL_STATUSES: frozenset[str] = frozenset({"closed", "withdrawn", "duplicate"})

AssignmentRole = Literal["lead", "supporting"]
"""首接负责: the lead owns the case and coordinates the supporting departments."""

DisputeReason = Literal["wrong_function", "wrong_place", "unclear_ownership", "other"]
"""Why a department disputes a routing (退单)."""

DisputeOutcome = Literal["reassign", "uphold"]

ResolutionOutcome = Literal["solved", "partially_solved", "explained", "not_solvable"]
"""How the lead department closed its work (办结)."""

CallbackFault = Literal["department", "requester", "external", "none"]
"""Whose fault an unsatisfying result is, as judged at the callback (回访)."""

EscalationStep = Literal["reminder", "supervision", "public_notice"]
"""The escalation ladder: 催办 reminder → 督办 supervision → 通报 public notice."""

Tier = Literal["community", "street", "district"]
"""Who escalates: community → street (街道大党工委) → district."""

TIER_ORDER: dict[str, int] = {"community": 0, "street": 1, "district": 2}

ContactChannel = Literal["phone", "visit", "sms", "app", "other"]
