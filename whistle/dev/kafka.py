"""A local single-node Apache Kafka broker (KRaft) run from Maven Central jars."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from whistle.dev.process import (
    ServiceError,
    last_error,
    our_pid,
    pid_alive,
    port_open,
    run_sync,
    tail,
    terminate,
    wait_until,
)
from whistle.settings import LOCAL_KAFKA_PORT

KAFKA_VERSION = "4.1.2"
LOG4J_VERSION = "2.24.3"  # the log4j2 version kafka_2.13 4.1.2 depends on
CONTROLLER_PORT = LOCAL_KAFKA_PORT + 1
# A test run creates thousands of partitions (every test has its own topics); at 512 MiB the
# broker's heap ran out after ~14,000 of them (java.lang.OutOfMemoryError in its own threads).
JVM_OPTIONS = ("-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true")
POM_TEMPLATE = Path(__file__).with_name("kafka-pom.xml")
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class KafkaPaths:
    """Where the local broker keeps its jars, configuration, data, logs and pid."""

    root: Path
    jars: Path | None = None
    """The jar cache when it is not ``root/libs`` (a throwaway broker reusing the dev cache)."""

    @classmethod
    def under(cls, state_dir: Path) -> KafkaPaths:
        """The broker's folder inside the project's state directory."""
        return cls(state_dir / "kafka")

    @property
    def libs(self) -> Path:
        """Cached jars resolved by Maven."""
        return self.jars or self.root / "libs"

    @property
    def stamp(self) -> Path:
        """Names the versions the cached jars belong to."""
        return self.libs / "VERSION"

    @property
    def data(self) -> Path:
        """The broker's log.dirs (formatted once)."""
        return self.root / "data"

    @property
    def logs(self) -> Path:
        """The broker's own log files."""
        return self.root / "logs"

    @property
    def server_properties(self) -> Path:
        """The broker configuration written by this module."""
        return self.root / "server.properties"

    @property
    def log4j_config(self) -> Path:
        """The log4j2 configuration sending broker logs to ``logs/server.log``."""
        return self.root / "log4j2.properties"

    @property
    def pid_file(self) -> Path:
        """The pid of the running broker."""
        return self.root / "kafka.pid"


def stamp_text() -> str:
    """The content of the jar cache stamp for the pinned versions."""
    return f"kafka_2.13 {KAFKA_VERSION} log4j {LOG4J_VERSION}\n"


def libs_ready(paths: KafkaPaths) -> bool:
    """True when the cached jars match the pinned versions."""
    try:
        return paths.stamp.read_text() == stamp_text()
    except OSError:
        return False


def resolve_libs(paths: KafkaPaths) -> None:
    """Download the broker's jars with Maven unless the cache already holds them."""
    if libs_ready(paths):
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("kafka: Maven (mvn) not found; install it: apt-get install -y maven")
    pom = paths.root / "pom.xml"
    pom.parent.mkdir(parents=True, exist_ok=True)
    pom.write_text(
        POM_TEMPLATE.read_text()
        .replace("@KAFKA_VERSION@", KAFKA_VERSION)
        .replace("@LOG4J_VERSION@", LOG4J_VERSION)
    )
    shutil.rmtree(paths.libs, ignore_errors=True)
    command = [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies"]
    command += [f"-DoutputDirectory={paths.libs}", "-DincludeScope=runtime"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise ServiceError(f"kafka: mvn could not resolve kafka_2.13 {KAFKA_VERSION}: {detail}")
    paths.stamp.write_text(stamp_text())


def server_properties(
    paths: KafkaPaths, port: int = LOCAL_KAFKA_PORT, controller_port: int = CONTROLLER_PORT
) -> str:
    """The configuration of the combined broker/controller node."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(paths.data),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "auto.create.topics.enable": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def log4j_properties(paths: KafkaPaths) -> str:
    """A log4j2 configuration writing the broker's log to a rolling file."""
    log = paths.logs / "server.log"
    return f"""status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log}
appender.file.filePattern = {log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""


def write_config(
    paths: KafkaPaths, port: int = LOCAL_KAFKA_PORT, controller_port: int = CONTROLLER_PORT
) -> None:
    """Write server.properties and the log4j2 configuration."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.server_properties.write_text(server_properties(paths, port, controller_port))
    paths.log4j_config.write_text(log4j_properties(paths))


def java() -> str:
    """The java executable (JAVA_HOME first, then PATH)."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise ServiceError("kafka: java not found; install a JDK >= 17 (openjdk-17-jre-headless)")
    return found


def _java_command(paths: KafkaPaths, main_class: str, *args: str) -> list[str]:
    """A java command line running ``main_class`` from the cached jars."""
    log4j = f"-Dlog4j2.configurationFile={paths.log4j_config}"
    return [java(), *JVM_OPTIONS, log4j, "-cp", f"{paths.libs}/*", main_class, *args]


def _storage_tool(paths: KafkaPaths, *args: str) -> str:
    """Run ``kafka.tools.StorageTool`` and return its standard output."""
    command = _java_command(paths, "kafka.tools.StorageTool", *args)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise ServiceError(f"kafka: StorageTool {args[0]} failed: {detail}")
    return done.stdout.strip()


def random_cluster_id() -> str:
    """A cluster id as ``StorageTool random-uuid`` prints it (base64url, no padding), without
    starting a JVM for it."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids ids that look like command-line options
            return text


def format_storage(paths: KafkaPaths) -> None:
    """Format the broker's storage once (a new cluster id the first time only)."""
    if (paths.data / "meta.properties").exists():
        return
    cluster_id = random_cluster_id()
    _storage_tool(paths, "format", "-t", cluster_id, "-c", str(paths.server_properties))


def running_pid(paths: KafkaPaths) -> int | None:
    """The pid of this checkout's broker when it runs, else None."""
    return our_pid(paths.pid_file, f"kafka.Kafka {paths.server_properties}")


async def _metadata_answers(bootstrap: str, timeout_s: float) -> bool:
    """True when the cluster at ``bootstrap`` answers a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient  # imported here: keeps `whistle` start fast

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def answers(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """True when the Kafka cluster at ``bootstrap`` answers a real metadata request."""
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        return run_sync(_metadata_answers(bootstrap, timeout_s))
    finally:
        aiokafka_log.setLevel(level)


def local_bootstrap() -> str:
    """The bootstrap address of the local broker."""
    return f"127.0.0.1:{LOCAL_KAFKA_PORT}"


def _check_ports_free(ports: tuple[int, ...] = (LOCAL_KAFKA_PORT, CONTROLLER_PORT)) -> None:
    """Fail in one line when another process holds the broker's ports."""
    for port in ports:
        if port_open(port):
            raise ServiceError(
                f"kafka: port {port} is already taken by a process that is not this "
                "checkout's broker; stop it (another checkout: `whistle dev down` there) "
                "or set WHISTLE_KAFKA_BOOTSTRAP"
            )


def _spawn(paths: KafkaPaths) -> int:
    """Start the broker detached from this process and record its pid."""
    out = (paths.logs / "kafka.out").open("ab")
    command = _java_command(paths, "kafka.Kafka", str(paths.server_properties))
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=paths.root,
    )
    out.close()
    paths.pid_file.write_text(f"{process.pid}\n")
    return process.pid


def _wait_ready(
    paths: KafkaPaths, pid: int, timeout: float = START_TIMEOUT_S, port: int = LOCAL_KAFKA_PORT
) -> None:
    """Wait until the broker answers metadata; fail in one line if it dies or stalls."""
    bootstrap = f"127.0.0.1:{port}"

    def ready() -> bool:
        if not pid_alive(pid):
            return True
        return port_open(port) and answers(bootstrap, 2.0)

    wait_until(ready, timeout, interval=0.5)
    if not pid_alive(pid):
        paths.pid_file.unlink(missing_ok=True)
        log = last_error(paths.logs / "server.log") or tail(paths.logs / "kafka.out", 2)
        raise ServiceError(f"kafka: broker exited during start-up: {log}")
    if not answers(bootstrap, 2.0):
        raise ServiceError(
            f"kafka: broker (pid {pid}) did not answer within {timeout:.0f} s; "
            f"see {paths.logs / 'server.log'}"
        )


@dataclass(frozen=True)
class KafkaNode:
    """A single-node broker at a given folder and ports (the dev broker, or a throwaway one
    that a fault test may kill and start again)."""

    paths: KafkaPaths
    port: int = LOCAL_KAFKA_PORT
    controller_port: int = CONTROLLER_PORT

    @property
    def bootstrap(self) -> str:
        """Its bootstrap address."""
        return f"127.0.0.1:{self.port}"

    def running_pid(self) -> int | None:
        """The broker's pid when it runs, else None."""
        return running_pid(self.paths)

    def start(self, timeout: float = START_TIMEOUT_S) -> int:
        """Configure (once), start and wait until it answers metadata; return its pid."""
        _check_ports_free((self.port, self.controller_port))
        resolve_libs(self.paths)
        write_config(self.paths, self.port, self.controller_port)
        format_storage(self.paths)
        pid = _spawn(self.paths)
        _wait_ready(self.paths, pid, timeout, self.port)
        return pid

    def kill(self) -> None:
        """SIGKILL exactly this broker's process (a crash, not a stop) and reap it."""
        pid = self.running_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), 30.0)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM the broker, SIGKILL it after ``grace`` seconds."""
        pid = self.running_pid()
        if pid is not None:
            terminate(pid, grace)
        self.paths.pid_file.unlink(missing_ok=True)


def kafka_start(state_dir: Path) -> str:
    """Start this checkout's broker unless it runs already; return a status line."""
    paths = KafkaPaths.under(state_dir)
    pid = running_pid(paths)
    if pid is not None:
        _wait_ready(paths, pid)
        return f"kafka     up        {local_bootstrap()} (pid {pid}, already running)"
    pid = KafkaNode(paths).start()
    return f"kafka     up        {local_bootstrap()} (pid {pid}, started, {KAFKA_VERSION})"


def kafka_stop(state_dir: Path) -> str:
    """Stop exactly the broker named by this checkout's pid file; return a status line."""
    paths = KafkaPaths.under(state_dir)
    pid = running_pid(paths)
    if pid is None:
        paths.pid_file.unlink(missing_ok=True)
        return "kafka     down      (was not running)"
    terminate(pid, grace=30.0)
    paths.pid_file.unlink(missing_ok=True)
    return f"kafka     down      (stopped pid {pid})"


def kafka_status(state_dir: Path) -> tuple[bool, str]:
    """Whether this checkout's broker is up, and a status line."""
    paths = KafkaPaths.under(state_dir)
    pid = running_pid(paths)
    if pid is None:
        taken = port_open(LOCAL_KAFKA_PORT)
        note = f" (port {LOCAL_KAFKA_PORT} taken by another process)" if taken else ""
        return False, f"kafka     down{note}"
    if not answers(local_bootstrap(), 2.0):
        return False, f"kafka     starting  {local_bootstrap()} (pid {pid}, not answering yet)"
    return True, f"kafka     up        {local_bootstrap()} (pid {pid}, {KAFKA_VERSION})"
