"""Standard Webhooks signatures: known vectors, rotation, tolerance, the reference library."""

from __future__ import annotations

import base64
import json

import pytest

from whistle.webhooks.signing import (
    WebhookVerificationError,
    new_secret,
    secret_bytes,
    sign,
    signed_headers,
    verify,
)

# The test vector of the Standard Webhooks specification's reference implementations.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specification_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


def test_the_spec_vector_verifies_at_its_own_time() -> None:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS + 10)


def test_a_new_secret_has_the_prefix_and_32_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_bytes(secret)) == 32


def test_a_tampered_body_is_rejected() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "evt-1", b'{"a":1}', timestamp=1000)
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(secret, headers, b'{"a":2}', now=1000)


def test_a_wrong_secret_is_rejected() -> None:
    headers = signed_headers([new_secret()], "evt-1", b"{}", timestamp=1000)
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), headers, b"{}", now=1000)


@pytest.mark.parametrize("skew", [-301, 301, 10_000])
def test_a_timestamp_outside_the_tolerance_is_a_replay(skew: int) -> None:
    secret = new_secret()
    headers = signed_headers([secret], "evt-1", b"{}", timestamp=1_000_000)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(secret, headers, b"{}", now=1_000_000 + skew)


def test_missing_headers_are_rejected() -> None:
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(new_secret(), {"webhook-id": "x"}, b"{}")


def test_during_rotation_both_secrets_verify() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers([new, old], "evt-9", b"{}", timestamp=5000)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers, b"{}", now=5000)
    verify(new, headers, b"{}", now=5000)


def test_headers_are_case_insensitive() -> None:
    secret = new_secret()
    headers = {k.title(): v for k, v in signed_headers([secret], "e", b"x", 77).items()}
    verify(secret, headers, "x", now=77)


def test_the_reference_library_verifies_our_deliveries() -> None:
    import standardwebhooks  # a dev dependency: the reference implementation

    secret = new_secret()
    body = json.dumps({"specversion": "1.0", "id": "evt-1", "data": {"城管": "签收"}}).encode()
    headers = signed_headers([new_secret(), secret], "evt-1", body)
    payload = standardwebhooks.Webhook(secret).verify(body, headers)
    assert payload["data"] == {"城管": "签收"}


def test_we_verify_what_the_reference_library_signs() -> None:
    from datetime import UTC, datetime

    import standardwebhooks  # a dev dependency: the reference implementation

    secret = new_secret()
    when = datetime.now(UTC)
    sig = standardwebhooks.Webhook(secret).sign("evt-2", when, '{"x":1}')
    headers = {
        "webhook-id": "evt-2",
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": sig,
    }
    verify(secret, headers, b'{"x":1}')


def test_secret_without_prefix_or_padding_is_accepted() -> None:
    key = b"k" * 24
    raw = base64.b64encode(key).decode().rstrip("=")
    assert secret_bytes(raw) == key
