"""The dev services answer: Kafka metadata and a produce/consume round trip, PostgreSQL queries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from whistle.dev.services import ensure_services, services_status
from whistle.settings import Settings

pytestmark = pytest.mark.integration


async def test_the_broker_answers_a_metadata_request(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    assert cluster["brokers"]


async def test_a_record_produced_to_a_fresh_topic_is_consumed(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> None:
    topic, group = unique_name("test-services"), unique_name("test-group")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"whistle raised", key=b"case-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=20)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"case-1", b"whistle raised")


async def test_postgres_answers_select_one_on_a_fresh_database(fresh_database: str) -> None:
    connection = await asyncpg.connect(fresh_database)
    try:
        assert await connection.fetchval("select 1") == 1
        assert (
            await connection.fetchval("select count(*) from pg_tables where schemaname = 'public'")
            == 0
        )
    finally:
        await connection.close()


async def test_the_application_database_exists(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        assert (
            await connection.fetchval("select current_database()")
            == database_url.rsplit("/", 1)[-1]
        )
    finally:
        await connection.close()


def test_starting_the_services_again_changes_nothing(
    kafka_bootstrap: str, database_url: str, service_settings: Settings
) -> None:
    before = services_status(service_settings)
    lines = ensure_services(service_settings)
    assert services_status(service_settings) == before
    assert before[0] is True
    for line in lines:
        assert "already running" in line or "external" in line
