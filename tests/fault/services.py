"""A private Kafka broker and PostgreSQL cluster the fault suite may kill -9 and start again.

They live in a temp folder on free ports, so the shared development services that other tests
and engineers use are never touched. The broker reuses the dev jar cache (``var/kafka/libs``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.service_fixtures import restartable_port
from whistle.dev.kafka import KafkaNode, KafkaPaths
from whistle.dev.postgres import PostgresCluster, PostgresPaths
from whistle.settings import Settings


@dataclass
class PrivateServices:
    """One throwaway broker and one throwaway cluster, with their restart counts and timings."""

    root: Path
    kafka: KafkaNode
    postgres: PostgresCluster
    broker_restarts: int = 0
    postgres_restarts: int = 0
    outage_s: float = 0.0

    @classmethod
    def create(cls, parent: Path | None = None) -> PrivateServices:
        """Folders under a new temp dir (traversable by the ``postgres`` user) and free ports."""
        root = Path(tempfile.mkdtemp(prefix="whistle-fault-", dir=parent or "/tmp"))
        root.chmod(0o755)
        jars = KafkaPaths.under(Settings().state_dir).libs
        kafka = KafkaNode(
            KafkaPaths(root / "kafka", jars=jars), restartable_port(), restartable_port()
        )
        postgres = PostgresCluster(PostgresPaths(root / "postgres"), restartable_port())
        return cls(root, kafka, postgres)

    @property
    def bootstrap(self) -> str:
        """The private broker's address."""
        return self.kafka.bootstrap

    @property
    def dsn(self) -> str:
        """The private cluster's application database."""
        return self.postgres.dsn()

    def start(self) -> None:
        """Start both (formatting the broker and running initdb the first time)."""
        self.kafka.start()
        self.postgres.start()

    def restart_kafka(self, down_s: float) -> float:
        """kill -9 the broker, stay down ``down_s`` seconds, start it; return the outage."""
        began = time.monotonic()
        self.kafka.kill()
        time.sleep(down_s)
        self.kafka.start(timeout=180.0)
        self.broker_restarts += 1
        return self._outage(began)

    def restart_postgres(self, down_s: float) -> float:
        """kill -9 every server process, stay down ``down_s`` seconds, start (crash recovery)."""
        began = time.monotonic()
        self.postgres.kill()
        time.sleep(down_s)
        self.postgres.start()
        self.postgres_restarts += 1
        return self._outage(began)

    def _outage(self, began: float) -> float:
        took = time.monotonic() - began
        self.outage_s += took
        return took

    def close(self, keep: bool = False) -> None:
        """Stop both; remove the folder unless ``keep`` (to read the logs)."""
        self.kafka.stop(grace=10.0)
        self.postgres.stop()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)
