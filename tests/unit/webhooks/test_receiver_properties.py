"""Properties of what reads untrusted webhook input: ``verify`` on whatever headers and body
arrive (accept exactly the authentic and fresh, refuse replays outside the tolerance) and
``parse_retry_after`` on whatever a receiver answers."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from whistle.delivery.schedule import MAX_RETRY_AFTER_S, parse_retry_after
from whistle.webhooks.signing import (
    DEFAULT_TOLERANCE_S,
    WebhookVerificationError,
    new_secret,
    signed_headers,
    verify,
)

SECRET = new_secret()
NOW = 1_800_000_000
HEADER_NAMES = st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "x"])
HEADER_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=120)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(HEADER_NAMES, HEADER_VALUES), st.binary(max_size=100))
def test_arbitrary_headers_are_refused_with_a_verification_error(
    headers: dict[str, str], body: bytes
) -> None:
    try:
        verify(SECRET, headers, body, now=NOW)
    except WebhookVerificationError:
        return
    raise AssertionError(f"forged delivery accepted: {headers}")


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=40).filter(str.strip),
    st.binary(max_size=200),
    st.integers(-DEFAULT_TOLERANCE_S, DEFAULT_TOLERANCE_S),
)
def test_an_authentic_delivery_within_the_tolerance_verifies(
    msg_id: str, body: bytes, skew: int
) -> None:
    headers = signed_headers([SECRET], msg_id, body, NOW + skew)
    verify(SECRET, headers, body, now=NOW)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200),
    st.integers(DEFAULT_TOLERANCE_S + 1, 10**9) | st.integers(-(10**9), -DEFAULT_TOLERANCE_S - 1),
)
def test_a_replay_outside_the_tolerance_is_refused(body: bytes, skew: int) -> None:
    headers = signed_headers([SECRET], "msg_1", body, NOW + skew)
    try:
        verify(SECRET, headers, body, now=NOW)
    except WebhookVerificationError as exc:
        assert "tolerance" in str(exc)
        return
    raise AssertionError(f"replay {skew} s away accepted")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.data())
def test_any_change_of_the_body_is_refused(body: bytes, data: st.DataObject) -> None:
    headers = signed_headers([SECRET], "msg_1", body, NOW)
    at = data.draw(st.integers(0, len(body) - 1))
    flipped = body[:at] + bytes([body[at] ^ data.draw(st.integers(1, 255))]) + body[at + 1 :]
    try:
        verify(SECRET, headers, flipped, now=NOW)
    except WebhookVerificationError:
        return
    raise AssertionError("tampered body accepted")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.from_regex(r"\A\s*[0-9]{1,6000}\s*\Z"))
@example("²")  # a digit to str.isdigit, not to int()
@example("9" * 5000)  # over int()'s 4,300-digit limit
@example("Fri, 31 Dec 9999 23:59:59 GMT")
def test_any_retry_after_is_none_or_bounded_seconds(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER_S
