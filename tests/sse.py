"""Reading a server-sent event stream in tests (the API's JSON streams, the pages' HTML ones)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, str | None, str]]:
    """(event, id, data) of a server-sent event stream, the data lines joined by LF."""
    event, event_id, data = "", None, []
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and event:
            yield event, event_id, "\n".join(data)
            event, event_id, data = "", None, []
