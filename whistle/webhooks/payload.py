"""The body of a delivery: the event as a CloudEvents 1.0 JSON, addressed to one department."""

from __future__ import annotations

import json
from typing import Any

from whistle.domain.base import Event
from whistle.domain.codec import parse_event

CONTENT_TYPE = "application/cloudevents+json"


def acknowledge_path(case_id: str) -> str:
    """The API path a department's system POSTs to in order to acknowledge (签收) the case."""
    return f"/v1/cases/{case_id}/acknowledge"


def cloudevent_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The raw event as a CloudEvents 1.0 object (personal data left out)."""
    return _cloudevent(raw)


def _cloudevent(raw: dict[str, Any]) -> dict[str, Any]:
    event = parse_event(raw)
    try:
        from whistle.contracts import to_cloudevent
    except ImportError:  # the contracts module is optional until it lands
        return _minimal_cloudevent(event)
    return dict(to_cloudevent(event))


def _minimal_cloudevent(event: Event) -> dict[str, Any]:
    data = event.model_dump(mode="json", exclude={"requester"})
    return {
        "specversion": "1.0",
        "id": event.event_id,
        "source": "/whistle/cases",
        "type": f"cn.whistle.case.{getattr(event, 'CE_NAME', event.type)}",
        "subject": event.case_id,
        "time": data["occurred_at"],
        "datacontenttype": "application/json",
        "data": data,
    }


def delivery_body(
    raw: dict[str, Any], department: str, cloudevent: dict[str, Any] | None = None
) -> str:
    """The compact CloudEvent JSON sent to ``department`` for the raw event ``raw``.

    ``cloudevent``: the event already converted (one conversion for several departments).
    """
    event = dict(cloudevent) if cloudevent is not None else _cloudevent(raw)
    case_id = str(raw["case_id"])
    event["department"] = department  # extension attribute: the recipient department
    event["caseid"] = case_id
    event["acknowledgepath"] = acknowledge_path(case_id)
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))
