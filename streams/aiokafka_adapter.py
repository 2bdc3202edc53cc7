"""Every use of aiokafka's private state, in one place.

Checked against aiokafka 0.14.0. Each attribute is named here with why the worker needs it;
tests/unit/streams/test_library_adapters.py fails loudly when an upgrade removes or stops
reading one. Nothing else in the code base touches an underscore attribute of aiokafka.
"""

from __future__ import annotations

from typing import Any

AIOKAFKA_VERSION = "0.14.0"
"""The version the attributes below were checked against."""


def set_fetch_max_wait_ms(consumer: Any, ms: int) -> None:
    """Change a not yet started ``AIOKafkaConsumer``'s fetch wait.

    ``AIOKafkaConsumer._fetch_max_wait_ms``: the constructor's ``fetch_max_wait_ms``, read by
    ``start()`` when it creates the fetcher. Faust constructs the worker's consumer itself
    (``streams.faust_adapter.transport_configuring_consumer``), so setting it there is the only
    way in.
    """
    consumer._fetch_max_wait_ms = ms


async def wait_on_metadata(client: Any, topic: str) -> None:
    """Fetch the metadata of ``topic`` and wait until the client has it.

    ``AIOKafkaClient._wait_on_metadata``: the producer's own wait before a first send to a
    topic; ``force_metadata_update`` alone returns before a new topic is in the metadata.
    """
    await client._wait_on_metadata(topic)


def consumer_client(consumer: Any) -> Any:
    """The ``AIOKafkaClient`` of a consumer (``AIOKafkaConsumer._client``), for a forced
    metadata refresh: the consumer has no public one (``bench/bench_overload.py``)."""
    return consumer._client
