"""The scale-out topology of one test module, as real processes a test can kill, stop and restart.

One embedded SeaweedFS (run by the test process, so its children can be stopped and killed),
a PostgreSQL schema of its own, a Redis queue of its own, one API process (``loopback serve``
with neither the worker nor the storage) and two ``loopback worker`` processes. Every process
shares the database, the queue and ``LOOPBACK_SECRET_KEY``, as the README's "At scale" asks.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from loopback.kit.ports import free_ports
from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.serve import register_embedded_storage
from loopback.tenancy.service import bootstrap

DATABASE_URL = os.environ.get("LOOPBACK_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("LOOPBACK_TEST_REDIS_URL")

requires_postgresql_and_redis = pytest.mark.skipif(
    not (DATABASE_URL and REDIS_URL),
    reason="the fault suite runs the scale-out topology: set LOOPBACK_TEST_DATABASE_URL and "
    "LOOPBACK_TEST_REDIS_URL (.ci/run sets both)",
)

OPERATOR_TOKEN = "lbk_faults-operator-token"
PROJECT = "/v3/organizations/demo/projects/default"
BUCKETS = f"{PROJECT}/buckets"
WORKER_THREADS = 2
API_LINE = re.compile(rb"API +http://127\.0\.0\.1:(\d+)")
PR_SET_PDEATHSIG = 1
STARTED = time.monotonic()
# Starting a process is not a fault's recovery: on a busy CI machine its imports alone take 30 s.
START_SECONDS = 120.0


def progress(message: str) -> None:
    """A line of the suite's progress; pytest shows it with ``-s`` and under a failure."""
    sys.stdout.write(f"[faults +{time.monotonic() - STARTED:6.1f} s] {message}\n")
    sys.stdout.flush()


def _die_with_parent() -> None:
    # A test process that dies takes its children along instead of leaving workers on the queue.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """One ``python -m loopback …`` process with its log file; started from the main thread only,
    since the kernel's parent-death signal follows the thread that forked."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "loopback", *self.args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, no claim or idempotency record is released."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.kills += 1
        progress(f"killed {self.name} (pid {self.process.pid}) with SIGKILL")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class ApiProcess(Child):
    """``loopback serve`` with the worker and the embedded storage turned off: an API replica."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        super().__init__("api", ["serve"], env, logs)
        self.port = 0
        self.url = ""

    def start(self, timeout: float = START_SECONDS) -> None:
        """Start on the previous port when it is still free (a replica restarted in place)."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.env["LOOPBACK_PORT"] = str(self.port)
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                if self.port and b"cannot listen" in self.log_path.read_bytes()[offset:]:
                    self.port = 0  # someone took the port meanwhile: any free one will do
                    return self.start(max(deadline - time.monotonic(), 1.0))
                raise AssertionError(f"the API exited with {self.process.returncode}:\n{self.output()}")
            printed = API_LINE.search(self.log_path.read_bytes()[offset:])
            if printed is not None:
                self.port = int(printed.group(1))
                self.url = f"http://127.0.0.1:{self.port}"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                        progress(f"API ready at {self.url} (pid {self.process.pid})")
                        return None
            time.sleep(0.1)
        raise AssertionError(f"the API did not become ready within {timeout} s:\n{self.output()}")


def _connected_to_redis(pid: int) -> bool:
    """Whether ``pid`` holds an established TCP connection to the test Redis (Linux's /proc)."""
    port = urlsplit(str(REDIS_URL)).port or 6379
    try:
        inodes = {
            os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
        }
    except OSError:
        return False
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as connections:
            for line in connections.readlines()[1:]:
                fields = line.split()
                remote_port, state, inode = int(fields[2].rsplit(":", 1)[1], 16), fields[3], fields[9]
                if remote_port == port and state == "01" and inode in inodes:
                    return True
    return False


def _isolated_database() -> tuple[str, str]:
    """A fresh schema of the test PostgreSQL, and the URL whose search path is that schema."""
    assert DATABASE_URL is not None
    schema = f"lb_faults_{secrets.token_hex(6)}"
    admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = make_url(DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, url.render_as_string(hide_password=False)


def _drop(schema: str, queue_name: str) -> None:
    assert DATABASE_URL is not None
    admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
    import redis

    client = redis.Redis.from_url(str(REDIS_URL))
    for key in client.scan_iter(f"*{queue_name}*"):
        client.delete(key)
    client.close()


class Topology:
    """Everything one test module runs against, and the faults it can inject."""

    def __init__(
        self, root: Path, storage: EmbeddedSeaweedFS, settings: Settings, env: dict[str, str]
    ) -> None:
        self.root = root
        self.storage = storage
        self.settings = settings
        self.runtime = Runtime.from_settings(settings)
        logs = root / "logs"
        logs.mkdir(exist_ok=True)
        self.api = ApiProcess({**env, "LOOPBACK_WORKERS": "0"}, logs)
        self.workers = [
            Child(f"worker-{n}", ["worker", "--threads", str(WORKER_THREADS)], dict(env), logs)
            for n in (1, 2)
        ]

    @classmethod
    @contextlib.contextmanager
    def started(cls, root: Path) -> Iterator[Topology]:
        schema, database_url = _isolated_database()
        queue_name = f"loopback-faults-{secrets.token_hex(4)}"
        settings = Settings(
            data_dir=root / "data",
            database_url=database_url,
            queue_url=REDIS_URL,
            queue_name=queue_name,
            secret_key=SecretStr(Fernet.generate_key().decode()),
            bootstrap_token=SecretStr(OPERATOR_TOKEN),
            embedded_storage=False,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPBACK_")}
        env.update(
            LOOPBACK_DATA_DIR=str(settings.data_dir),
            LOOPBACK_DATABASE_URL=database_url,
            LOOPBACK_QUEUE_URL=str(REDIS_URL),
            LOOPBACK_QUEUE_NAME=queue_name,
            LOOPBACK_SECRET_KEY=settings.secret_key.get_secret_value() if settings.secret_key else "",
            LOOPBACK_BOOTSTRAP_TOKEN=OPERATOR_TOKEN,
            LOOPBACK_EMBEDDED_STORAGE="false",
        )
        # A fixed S3 port, so a storage started again answers where the region says it is.
        storage = EmbeddedSeaweedFS(root / "seaweedfs", s3_port=free_ports(1)[0])
        topology: Topology | None = None
        try:
            storage.start()
            upgrade(database_url)
            topology = cls(root, storage, settings, env)
            with topology.runtime.db.session() as session:
                bootstrap(session, settings)
                register_embedded_storage(topology.runtime, session, storage)
            topology.api.start()
            for worker in topology.workers:
                worker.start()
            topology.wait_consuming()
            progress(f"topology up: storage {storage.endpoint}, schema {schema}, queue {queue_name}")
            yield topology
        finally:
            if topology is not None:
                for child in [topology.api, *topology.workers]:
                    child.stop()
                topology.runtime.close()
            storage.stop()
            _drop(schema, queue_name)

    # --- the database and the storage, seen from behind the control plane ----------------------

    def operator(self, service: str) -> Any:
        """boto3 with the storage operator's identity; one attempt, so a check sees what is."""
        return boto3.client(
            service,
            endpoint_url=self.storage.endpoint,
            aws_access_key_id=self.storage.identity.access_key_id,
            aws_secret_access_key=self.storage.identity.secret_access_key,
            region_name="local-1",
            config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 1}),
        )

    # --- faults -------------------------------------------------------------------------------

    def kill_worker(self, index: int) -> None:
        self.workers[index].kill()

    def restart_worker(self, index: int) -> None:
        worker = self.workers[index]
        if not worker.alive:
            worker.start()
            progress(f"restarted {worker.name}")

    def consuming(self) -> list[int]:
        """The indexes of the workers taking tasks now (started, and connected to Redis)."""
        return [
            index
            for index, worker in enumerate(self.workers)
            if worker.alive and worker.process is not None and _connected_to_redis(worker.process.pid)
        ]

    def wait_consuming(self, timeout: float = START_SECONDS) -> None:
        """Wait until every worker holds a connection to Redis: it has started and takes tasks, so
        a kill lands on a worker at work rather than on one still importing."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            while not (worker.process is not None and _connected_to_redis(worker.process.pid)):
                assert worker.alive, f"{worker.name} exited:\n{worker.output()}"
                assert time.monotonic() < deadline, f"{worker.name} did not start within {timeout} s"
                time.sleep(0.1)

    def storage_pids(self) -> list[int]:
        """SeaweedFS's processes: those running in its directory (``weed server`` and ``weed s3``)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if (
                    Path(os.readlink(entry / "cwd")) == self.storage.root
                    and (entry / "exe").resolve().name == "weed"
                ):
                    found.append(int(entry.name))
            except OSError:
                continue
        return sorted(found)

    def signal_storage(self, sig: signal.Signals) -> list[int]:
        pids = self.storage_pids()
        assert pids, "no SeaweedFS process to signal"
        for pid in pids:
            os.kill(pid, sig)
        progress(f"sent {sig.name} to SeaweedFS {pids}")
        return pids

    def restart_storage(self, timeout: float = START_SECONDS) -> None:
        """Start SeaweedFS again on its S3 port and data, unless something (serve's supervision,
        in a replica that runs it) did already."""
        with contextlib.suppress(httpx.HTTPError):
            if self.storage_pids():
                self.storage.check()
                progress("SeaweedFS answers again without help")
                return
        self.storage.stop()  # reaps the killed children and frees their sockets
        self.storage.start(timeout)
        progress(f"restarted SeaweedFS at {self.storage.endpoint}")
