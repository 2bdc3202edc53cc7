"""One settings object for every process, read from ``WHISTLE_…`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

LOCAL_KAFKA_PORT = 19092
LOCAL_POSTGRES_PORT = 55432


class Settings(BaseSettings):
    """Configuration of Whistle; only the environment changes between laptop, compose and prod."""

    model_config = SettingsConfigDict(env_prefix="WHISTLE_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers. Unset: the project's local broker (started by it).",
    )
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL DSN. Unset: the project's local cluster (started by it).",
    )
    topic_prefix: str = Field(default="whistle", description="Prefix of every Kafka topic.")
    partitions: int = Field(default=12, ge=1, description="Partitions of command/event topics.")
    replication_factor: int = Field(default=1, ge=1)
    state_dir: Path = Field(
        default=REPO_ROOT / "var",
        description="Ignored folder for local services, worker data and caches.",
    )
    worker_id: str = Field(default="worker-1", description="Names this worker's data directory.")
    batch_window_ms: int = Field(
        default=100,
        ge=1,
        le=5000,
        description="At most how long the decider gathers a batch (it is handed over "
        "sooner once no command has arrived for 5 ms).",
    )
    batch_max: int = Field(default=2000, ge=1, description="Largest batch of records.")
    deadline_queue_s: float = Field(
        default=0.25,
        gt=0,
        le=60,
        description="Fired deadline commands kept queued for the decider, in seconds of its "
        "time: in a mass expiry, less keeps a new whistle's routing quicker, more drains faster.",
    )
    session_timeout_s: float = Field(
        default=10.0,
        ge=6,
        description="Kafka group session timeout: how soon a dead worker's "
        "partitions move to the others.",
    )
    worker_start_deadline_s: float = Field(
        default=600.0,
        gt=0,
        description="How long a stream worker whose start-up meets an unreachable or "
        "restarting broker keeps retrying (with a backoff of up to 30 s) before it gives up.",
    )
    worker_recovery_stall_s: float = Field(
        default=60.0,
        ge=0,
        description="How long a stream worker's table recovery may read nothing new before "
        "the worker stops its Faust process and starts it again (0: never).",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    worker_web_port: int = Field(default=6066, description="Faust worker's web port (/metrics).")
    routing_rules_file: Path | None = Field(
        default=None, description="Routing rules TOML; unset: the packaged demo rules."
    )
    sla_policies_file: Path | None = Field(
        default=None, description="SLA policies TOML; unset: the packaged 12345 defaults."
    )
    reply_timeout_s: float = Field(default=10.0, gt=0, description="Bounded wait for a decision.")
    api_max_inflight_commands: int = Field(
        default=256,
        ge=1,
        description="Command requests (POST…) one API process works on at once; "
        "more answer 429 + Retry-After at once.",
    )
    api_max_inflight_reads: int = Field(
        default=64,
        ge=1,
        description="Reads (GET) one API process works on at once; more answer 429.",
    )
    api_retry_after_s: int = Field(
        default=1,
        ge=1,
        description="Retry-After (seconds) of a 429 (at capacity) and of a 503 "
        "(Kafka or PostgreSQL unreachable).",
    )
    log_format: str = Field(default="auto", description="auto | json | console")
    log_level: str = "INFO"
    secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts webhook secrets at rest. Unset: a key kept in state_dir (dev only).",
    )
    notify_case_url: str = Field(
        default="http://127.0.0.1:8080/v1/cases/{case_id}",
        description="Link to a case page in notifications; {case_id} is replaced.",
    )
    notify_reminder_percents: tuple[int, ...] = Field(
        default=(50, 80),
        description="Approaching-deadline reminders, in percent of a clock's span (1–99).",
    )
    notify_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a notification being sent stays leased to its notifier; after a "
        "crash it is sent again once the lease runs out (at least once).",
    )
    notify_max_event_age_s: float = Field(
        default=86400.0,
        gt=0,
        description="A notifier reading older events (a first start on a long log) remembers "
        "them but tells nobody of them; reminders of clocks still running are kept.",
    )
    notify_digest_hour: int = Field(
        default=8, ge=0, le=23, description="Hour (China time) of the daily digest."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server of e-mail notices.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls: plain connection upgraded by STARTTLS (required, port 587); "
        "tls: TLS from the first byte (port 465); none: no encryption (local relays only).",
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user; unset: no AUTH.")
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(
        default="吹哨 Whistle <whistle@localhost>", description="From: of e-mail notices."
    )
    smtp_ca_file: Path | None = Field(
        default=None, description="PEM bundle to verify the SMTP server; unset: the system CAs."
    )
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    sms_provider: Literal["aliyun"] | None = Field(
        default=None, description="SMS gateway adapter; unset: no SMS."
    )
    sms_endpoint: str = Field(
        default="https://dysmsapi.aliyuncs.com/", description="The SMS gateway's API endpoint."
    )
    sms_access_key_id: str | None = None
    sms_access_key_secret: SecretStr | None = None
    sms_sign_name: str | None = Field(default=None, description="Approved SMS signature (签名).")
    sms_template_code: str | None = Field(
        default=None,
        description="Approved notification template with the variables ${case}, ${ask}, "
        "${deadline} and ${link}.",
    )

    @property
    def local_kafka(self) -> bool:
        """True when the project itself runs the broker."""
        return self.kafka_bootstrap is None

    @property
    def local_postgres(self) -> bool:
        """True when the project itself runs PostgreSQL."""
        return self.database_url is None

    @property
    def bootstrap(self) -> str:
        """The bootstrap address actually used."""
        return self.kafka_bootstrap or f"127.0.0.1:{LOCAL_KAFKA_PORT}"

    @property
    def dsn(self) -> str:
        """The PostgreSQL DSN actually used."""
        return self.database_url or f"postgresql://postgres@127.0.0.1:{LOCAL_POSTGRES_PORT}/whistle"

    def topic(self, name: str) -> str:
        """Full topic name for a logical topic (``case-commands`` → ``whistle.case-commands``)."""
        return f"{self.topic_prefix}.{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
