"""docker-compose.yml and the Dockerfile agree with the settings and the `whistle` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from whistle.attachments.blob_settings import BlobSettings
from whistle.cli import build_parser
from whistle.settings import REPO_ROOT, Settings

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
WHISTLE_SERVICES = {
    "worker": ["worker"],
    "projector": ["projector"],
    "api": ["api"],
    "webhooks": ["webhooks", "deliver"],
    "notifier": ["notifications", "run"],
}
KNOWN_COMMANDS = {tuple(command) for command in WHISTLE_SERVICES.values()} | {("db", "migrate")}


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """The services of docker-compose.yml (anchors and merge keys resolved)."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    return document["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whichever form compose uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def whistle_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run the Whistle image (their command starts with `whistle`)."""
    return {name: s for name, s in services.items() if (s.get("command") or [""])[0] == "whistle"}


def test_compose_runs_kafka_postgres_and_the_whistle_processes(services: dict) -> None:
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"] == "postgres:15"
    assert set(WHISTLE_SERVICES) <= set(whistle_services(services))


def test_the_whistle_processes_run_their_own_whistle_subcommand(services: dict) -> None:
    for name, expected in WHISTLE_SERVICES.items():
        assert services[name]["command"] == ["whistle", *expected]


def test_every_whistle_command_in_compose_is_a_known_subcommand(services: dict) -> None:
    for name, service in whistle_services(services).items():
        assert tuple(service["command"][1:]) in KNOWN_COMMANDS, name


def test_every_whistle_command_in_compose_parses_with_the_whistle_cli(services: dict) -> None:
    parser = build_parser()
    for name, service in whistle_services(services).items():
        try:
            parser.parse_args(service["command"][1:])
        except SystemExit:
            pytest.fail(f"{name}: `{' '.join(service['command'])}` is not a whistle command")


def test_every_whistle_variable_in_compose_is_a_settings_field(services: dict) -> None:
    fields = set(Settings.model_fields) | {f"blob_{name}" for name in BlobSettings.model_fields}
    for name, service in services.items():
        for variable in environment(service):
            if variable.startswith("WHISTLE_"):
                assert variable.removeprefix("WHISTLE_").lower() in fields, (name, variable)


def test_the_whistle_processes_use_the_compose_broker_and_database(services: dict) -> None:
    advertised = environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for name, service in whistle_services(services).items():
        env = environment(service)
        assert f"//{env['WHISTLE_KAFKA_BOOTSTRAP']}" in advertised, name
        database = urlsplit(env["WHISTLE_DATABASE_URL"])
        assert (database.hostname, database.port) == ("postgres", 5432), name
        assert database.path == f"/{environment(services['postgres'])['POSTGRES_DB']}", name


def test_every_whistle_process_shares_one_required_secret_key(services: dict) -> None:
    keys = {environment(s).get("WHISTLE_SECRET_KEY") for s in whistle_services(services).values()}
    assert len(keys) == 1
    assert next(iter(keys), "").startswith("${WHISTLE_SECRET_KEY:?")


def test_the_whistle_processes_wait_for_healthy_services(services: dict) -> None:
    for name in WHISTLE_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    depends = services["migrate"]["depends_on"]
    assert {depends[s]["condition"] for s in ("kafka", "postgres")} == {"service_healthy"}


def test_the_api_is_healthy_when_readyz_answers_on_its_port(services: dict) -> None:
    api = services["api"]
    assert environment(api)["WHISTLE_HTTP_PORT"] == "8080"
    assert environment(api)["WHISTLE_HTTP_HOST"] == "0.0.0.0"
    assert "http://127.0.0.1:8080/readyz" in " ".join(api["healthcheck"]["test"])


def test_the_api_keeps_photos_in_the_minio_service(services: dict) -> None:
    env = environment(services["api"])
    assert env["WHISTLE_BLOB_STORE"] == "s3"
    assert urlsplit(env["WHISTLE_BLOB_S3_ENDPOINT_URL"]).hostname == "minio"
    assert services["minio"]["image"].startswith("minio/minio:RELEASE.")
    assert env["WHISTLE_BLOB_S3_ACCESS_KEY_ID"] == environment(services["minio"])["MINIO_ROOT_USER"]
    assert services["api"]["depends_on"]["minio"]["condition"] == "service_healthy"


def test_kafka_and_postgres_have_health_checks(services: dict) -> None:
    for name in ("kafka", "postgres"):
        assert services[name]["healthcheck"]["test"], name


def test_the_image_installs_the_package_on_python_311_slim() -> None:
    dockerfile = (Path(REPO_ROOT) / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "pip install ." in dockerfile
    ignored = (Path(REPO_ROOT) / ".dockerignore").read_text().split()
    assert {"var", ".venv", ".git"} <= set(ignored)
