"""Envelope helpers: deterministic event ids."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from whistle.domain.base import EVENT_ID_NAMESPACE, event_id_for


@given(st.text(min_size=1, max_size=80), st.integers(1, 10**9))
def test_event_id_is_uuid5_of_command_id_and_seq(command_id: str, seq: int) -> None:
    expected = str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{command_id}:{seq}"))
    assert event_id_for(command_id, seq) == expected
