"""Log lines never carry tokens, secrets or requester personal data, even at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from whistle.logs import PAYLOAD_LOGGERS, configure_logging, get_logger


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """Put structlog's and the root logger's configuration back: configure_logging writes to
    this test's captured stderr, which is closed once the test ends."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**config)
    root.handlers[:], root.level = handlers, level


RECORD = b'{"type":"RaiseWhistle","requester":{"name":"\xe6\x9e\x97","phone":"13912345678"}}'


def test_kafka_records_are_not_logged_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "DEBUG")
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).debug("Sending (key=%s value=%s)", b"WH-1", RECORD)
    logging.getLogger("aiokafka.producer.producer").info("producer started")
    logging.getLogger("aiokafka.consumer").debug("fetching")
    err = capsys.readouterr().err
    assert "13912345678" not in err
    assert "producer started" in err and "fetching" in err


def test_secret_fields_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    get_logger().info("login", token="wh_abc", api_key="wh_def", secret="whsec_x", user="u1")
    err = capsys.readouterr().err
    assert "wh_abc" not in err and "wh_def" not in err and "whsec_x" not in err
    assert '"user": "u1"' in err
