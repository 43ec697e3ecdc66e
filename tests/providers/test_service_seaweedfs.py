"""The embedded SeaweedFS: starting again on fresh ports when one was taken between pick and listen."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback.providers import seaweedfs
from loopback.providers.seaweedfs import EmbeddedSeaweedFS


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port somebody else listens on, as a parallel test worker might right after our pick."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_port_taken_after_the_pick_makes_it_start_again_on_others(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_free_ports = seaweedfs.free_ports
    picks: list[list[int]] = []

    def first_pick_loses_a_race(count: int) -> list[int]:
        ports = real_free_ports(count)
        if not picks:
            ports[6] = taken_port  # the S3 gRPC port: SeaweedFS s3 exits with "address already in use"
        picks.append(ports)
        return ports

    monkeypatch.setattr(seaweedfs, "free_ports", first_pick_loses_a_race)
    with EmbeddedSeaweedFS(tmp_path / "storage") as storage:
        storage.check()
    # at least one more pick; under a loaded machine another test may take a second port meanwhile
    assert len(picks) >= 2
    assert taken_port not in picks[-1]
    log = (tmp_path / "storage" / "logs" / "s3.out").read_text()
    assert "address already in use" in log
