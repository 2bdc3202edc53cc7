"""A local PostgreSQL cluster run from Debian's packaged binaries."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from whistle.dev.process import (
    ServiceError,
    children_of,
    pid_alive,
    port_open,
    run_sync,
    tail,
    wait_until,
)
from whistle.settings import LOCAL_POSTGRES_PORT, REPO_ROOT

PG_ROOT = Path("/usr/lib/postgresql")
DATABASE = "whistle"
SYSTEM_USER = "postgres"
MAX_CONNECTIONS = 300  # several engineers, workers, projectors and test runs share it


@dataclass(frozen=True)
class PostgresPaths:
    """Where the local cluster keeps its data, socket and log."""

    root: Path

    @property
    def data(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server log written by ``pg_ctl -l``."""
        return self.root / "server.log"


def bin_dir() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` holding initdb, if any."""
    found = [path.parent for path in PG_ROOT.glob("*/bin/initdb")]
    if not found:
        return None
    return max(found, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)


def ensure_installed() -> Path:
    """The binaries folder, installing Debian's postgresql package first when root."""
    found = bin_dir()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise ServiceError(
            "postgres: PostgreSQL server binaries not found; install them: "
            "sudo apt-get install -y postgresql (or set WHISTLE_DATABASE_URL)"
        )
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            detail = " | ".join(done.stderr.strip().splitlines()[-2:])
            raise ServiceError(f"postgres: {' '.join(command)} failed: {detail}")
    found = bin_dir()
    if found is None:
        raise ServiceError(f"postgres: installed postgresql but found no initdb in {PG_ROOT}")
    return found


def _as_postgres(command: list[str]) -> list[str]:
    """Run ``command`` as the ``postgres`` system user when we are root (initdb refuses root)."""
    return ["runuser", "-u", SYSTEM_USER, "--", *command] if os.geteuid() == 0 else command


def _postgres_can_traverse(folder: Path) -> bool:
    """True when the server's user can reach ``folder`` (every parent traversable)."""
    if os.geteuid() != 0:
        return True
    done = subprocess.run(_as_postgres(["test", "-x", str(folder)]), check=False)
    return done.returncode == 0


def locate(state_dir: Path, remember: bool = True) -> PostgresPaths:
    """Choose (once) and remember where the cluster lives: the repo's var/ or the temp dir."""
    record = state_dir / "postgres.location"
    if record.exists():
        return PostgresPaths(Path(record.read_text().strip()))
    if not remember:
        return PostgresPaths(state_dir / "postgres")
    state_dir.mkdir(parents=True, exist_ok=True)
    if _postgres_can_traverse(state_dir):
        root = state_dir / "postgres"
    else:
        key = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
        root = Path(tempfile.gettempdir()) / f"whistle-postgres-{key}"
    record.write_text(f"{root}\n")
    return PostgresPaths(root)


def _run(command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool; raise a one-line ServiceError when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-2:])
        raise ServiceError(f"postgres: {what} failed: {detail}")
    return done


def _own(folder: Path) -> None:
    """Create ``folder`` owned by the server's user, private to it."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, SYSTEM_USER, SYSTEM_USER)
    folder.chmod(0o700)


def init_cluster(paths: PostgresPaths, bins: Path) -> None:
    """Run initdb once (trust auth, user postgres, UTF-8)."""
    if (paths.data / "PG_VERSION").exists():
        return
    _own(paths.root)
    _own(paths.data)
    command = [str(bins / "initdb"), "-D", str(paths.data), "--auth=trust", "-U", "postgres"]
    command += ["-E", "UTF8", "--locale=C.UTF-8"]
    _run(_as_postgres(command), "initdb")


def is_running(paths: PostgresPaths, bins: Path) -> bool:
    """True when this checkout's cluster runs (``pg_ctl status``)."""
    if not (paths.data / "PG_VERSION").exists():
        return False
    command = _as_postgres([str(bins / "pg_ctl"), "status", "-D", str(paths.data)])
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _pid(paths: PostgresPaths) -> str:
    """The postmaster pid of the running cluster (for status lines)."""
    try:
        return (paths.data / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def start_cluster(paths: PostgresPaths, bins: Path, port: int = LOCAL_POSTGRES_PORT) -> None:
    """Start the cluster on 127.0.0.1 and wait until it accepts connections."""
    if port_open(port):
        raise ServiceError(
            f"postgres: port {port} is already taken by a process that is not "
            "this checkout's cluster; stop it (another checkout: `whistle dev down` there) "
            "or set WHISTLE_DATABASE_URL"
        )
    options = f"-p {port} -k {paths.root} -c listen_addresses=127.0.0.1"
    options += f" -c max_connections={MAX_CONNECTIONS}"
    command = [str(bins / "pg_ctl"), "-D", str(paths.data), "-o", options]
    command += ["-l", str(paths.log), "-w", "-t", "60", "start"]
    done = subprocess.run(_as_postgres(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(f"postgres: pg_ctl start failed: {tail(paths.log, 2)}")


def local_dsn(database: str = DATABASE, port: int = LOCAL_POSTGRES_PORT) -> str:
    """The DSN of a database in the local cluster."""
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


async def _create_database(admin_dsn: str, name: str) -> bool:
    """Create database ``name`` unless it exists; True when it was created."""
    connection = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        exists = await connection.fetchval("select 1 from pg_database where datname = $1", name)
        if exists:
            return False
        await connection.execute(f'create database "{name}"')
        return True
    finally:
        await connection.close()


def ensure_database(name: str = DATABASE, port: int = LOCAL_POSTGRES_PORT) -> bool:
    """Create the application database in the local cluster if missing."""
    try:
        return run_sync(_create_database(local_dsn("postgres", port), name))
    except (OSError, asyncpg.PostgresError) as error:
        raise ServiceError(f"postgres: cannot create database {name}: {error}") from error


async def _select_one(dsn: str) -> bool:
    """True when ``dsn`` answers ``select 1``."""
    try:
        connection = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        return await connection.fetchval("select 1") == 1
    finally:
        await connection.close()


def answers(dsn: str) -> bool:
    """True when the database at ``dsn`` answers ``select 1``."""
    return run_sync(_select_one(dsn))


def postgres_start(state_dir: Path) -> str:
    """Start this checkout's cluster unless it runs already; return a status line."""
    bins = ensure_installed()
    paths = locate(state_dir)
    started = False
    if not is_running(paths, bins):
        init_cluster(paths, bins)
        start_cluster(paths, bins)
        started = True
    created = ensure_database()
    how = "started" if started else "already running"
    extra = ", created database whistle" if created else ""
    return f"postgres  up        {local_dsn()} (pid {_pid(paths)}, {how}{extra})"


@dataclass(frozen=True)
class PostgresCluster:
    """A cluster at a given folder and port (the dev cluster, or a throwaway one that a fault
    test may kill and start again)."""

    paths: PostgresPaths
    port: int = LOCAL_POSTGRES_PORT

    def dsn(self, database: str = DATABASE) -> str:
        """The DSN of one of its databases."""
        return local_dsn(database, self.port)

    def start(self, database: str = DATABASE) -> None:
        """initdb (once), start, and create ``database`` if missing."""
        bins = ensure_installed()
        if not is_running(self.paths, bins):
            init_cluster(self.paths, bins)
            start_cluster(self.paths, bins, self.port)
        ensure_database(database, self.port)

    def server_pids(self) -> list[int]:
        """The postmaster's pid and its children's (empty when it does not run)."""
        try:
            postmaster = int((self.paths.data / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return []
        if not pid_alive(postmaster):
            return []
        return [postmaster, *children_of(postmaster)]

    def kill(self) -> None:
        """SIGKILL the postmaster and every server process (a crash, not a stop)."""
        pids = self.server_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not any(pid_alive(pid) for pid in pids), 30.0)
        # A dead postmaster can linger as a zombie when PID 1 does not reap (containers):
        # pg_ctl and the next postmaster would take its lock files for a live server's.
        if pids and not pid_alive(pids[0]):
            socket = self.paths.root / f".s.PGSQL.{self.port}"
            for lock in (self.paths.data / "postmaster.pid", Path(f"{socket}.lock"), socket):
                lock.unlink(missing_ok=True)

    def stop(self) -> None:
        """``pg_ctl stop -m immediate`` (for clean-up)."""
        bins = bin_dir()
        if bins is not None and is_running(self.paths, bins):
            command = [str(bins / "pg_ctl"), "-D", str(self.paths.data), "-m", "immediate"]
            subprocess.run(_as_postgres([*command, "-w", "stop"]), capture_output=True, check=False)


def postgres_stop(state_dir: Path) -> str:
    """Stop exactly this checkout's cluster (``pg_ctl stop -m fast``); return a status line."""
    bins = bin_dir()
    paths = locate(state_dir, remember=False)
    if bins is None or not is_running(paths, bins):
        return "postgres  down      (was not running)"
    pid = _pid(paths)
    command = [str(bins / "pg_ctl"), "-D", str(paths.data), "-m", "fast", "-w", "stop"]
    _run(_as_postgres(command), "pg_ctl stop")
    return f"postgres  down      (stopped pid {pid})"


def postgres_status(state_dir: Path) -> tuple[bool, str]:
    """Whether this checkout's cluster is up, and a status line."""
    bins = bin_dir()
    paths = locate(state_dir, remember=False)
    if bins is None:
        return False, "postgres  down      (server binaries not installed)"
    if not is_running(paths, bins):
        taken = port_open(LOCAL_POSTGRES_PORT)
        note = f" (port {LOCAL_POSTGRES_PORT} taken by another process)" if taken else ""
        return False, f"postgres  down{note}"
    if not answers(local_dsn()):
        return False, f"postgres  running   (pid {_pid(paths)}) but {local_dsn()} does not answer"
    return True, f"postgres  up        {local_dsn()} (pid {_pid(paths)}, {paths.root})"
