"""A private three-node NATS JetStream cluster on loopback, started and stopped by a test.

Each node is its own `nats-server` process with a configuration file, a JetStream store
directory and free loopback ports (clients, routes, monitoring) of its own, in one temporary
directory; the routes join the three into one cluster. A node can be killed with SIGKILL and
started again with the same name, ports and store, so it rejoins as the same Raft peer and has
to catch up on what the others stored meanwhile. The monitoring port (`/jsz`, `/healthz`) shows
what a node holds itself, which the client API (answered by the stream's leader) cannot.
Everything is removed when the cluster stops, also when a test fails half-way.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import missing_tool

NATS_SERVER = "/usr/sbin/nats-server"
START_DEADLINE_S = 30.0  # generous: a loaded two-core machine starts three servers slowly
ATTEMPTS = 3  # a port taken by someone else between choosing and binding: new ports, again


@dataclass
class NatsNode:
    """One server of the cluster: its name, ports, files and (while running) its process."""

    name: str
    port: int
    cluster_port: int
    http_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.directory / "nats.conf"

    @property
    def log_file(self) -> Path:
        return self.directory / "nats.log"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def monitor(self, path: str) -> dict[str, Any] | None:
        """A monitoring endpoint's JSON answer; None while the node does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=2) as r:
                answer: dict[str, Any] = json.loads(r.read())
                return answer
        except urllib.error.HTTPError as exc:  # /healthz answers 503 with a JSON body
            body: dict[str, Any] = json.loads(exc.read() or b"{}")
            return body
        except (OSError, ValueError):
            return None

    def meta_leader(self) -> str | None:
        """The JetStream meta leader this node knows of (None: no leader elected yet)."""
        jsz = self.monitor("/jsz")
        if not jsz:
            return None
        leader = (jsz.get("meta_cluster") or {}).get("leader")
        return str(leader) if leader else None

    def healthy(self) -> bool:
        """JetStream on this node is current: the meta group and its stream and consumer
        replicas have caught up with their leaders (nats-server's own health check)."""
        health = self.monitor("/healthz")
        return health is not None and health.get("status") == "ok"

    def local_stream(self, stream: str) -> dict[str, Any] | None:
        """The stream as this node stores it (its own replica, leader or not)."""
        jsz = self.monitor("/jsz?streams=true&consumers=true")
        for account in (jsz or {}).get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                if detail.get("name") == stream:
                    found: dict[str, Any] = detail
                    return found
        return None


class NatsCluster:
    """Three clustered nats-server processes with JetStream; use `nats_cluster()` to run one."""

    def __init__(self, size: int = 3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gs-nats-cluster-"))
        self.name = f"gs-test-{uuid.uuid4().hex[:8]}"
        ports = _quiet_ports(3 * size)
        self.nodes = [
            NatsNode(
                name=f"n{i + 1}",
                port=ports[3 * i],
                cluster_port=ports[3 * i + 1],
                http_port=ports[3 * i + 2],
                directory=self.root / f"n{i + 1}",
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        """Every node, as GLAZENSTAD_NATS_URL lists them."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        [node] = [n for n in self.nodes if n.name == name]
        return node

    def _write_config(self, node: NatsNode) -> None:
        node.directory.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(
            f"nats-route://127.0.0.1:{other.cluster_port}"
            for other in self.nodes
            if other is not node
        )
        node.config_file.write_text(
            f"""
server_name: {node.name}
listen: 127.0.0.1:{node.port}
http: 127.0.0.1:{node.http_port}
jetstream {{
  store_dir: "{node.directory / "jetstream"}"
  max_memory_store: 64MB
  max_file_store: 512MB
}}
cluster {{
  name: {self.name}
  listen: 127.0.0.1:{node.cluster_port}
  routes: [{routes}]
}}
"""
        )

    def start(self, node: NatsNode) -> None:
        """Start (or start again) one node with its own name, ports and store."""
        assert not node.running(), f"{node.name} is running already"
        if not node.config_file.exists():
            self._write_config(node)
        with node.log_file.open("ab") as log:
            node.process = subprocess.Popen(
                [NATS_SERVER, "-c", str(node.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_DEADLINE_S
        while not _listening(node.port):
            if not node.running() or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {node.name} did not start: {self.log(node)}")
            time.sleep(0.05)

    def start_all(self) -> None:
        for node in self.nodes:
            self.start(node)
        self.wait_for_meta_leader()

    def wait_for_meta_leader(self) -> str:
        """Wait until every running node knows the same JetStream meta leader; its name."""
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            leaders = {node.meta_leader() for node in self.nodes if node.running()}
            if len(leaders) == 1 and None not in leaders:
                return str(leaders.pop())
            if time.monotonic() > deadline:
                raise RuntimeError(f"no JetStream meta leader in the cluster: {leaders}")
            time.sleep(0.1)

    def kill(self, node: NatsNode) -> None:
        """SIGKILL: no shutdown, no goodbye to the routes, files as they were at that moment."""
        assert node.process is not None and node.running(), f"{node.name} is not running"
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=10)

    def stop(self) -> None:
        """Kill every node still running and remove all their files."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.kill()
                node.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self, node: NatsNode, tail: int = 2000) -> str:
        try:
            return node.log_file.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


def _quiet_ports(count: int) -> list[int]:
    """Free loopback ports below the kernel's ephemeral range.

    A port the kernel handed out for a moment (`free_port`) can be given again to any outgoing
    connection, such as one node's route to another, before the node that was meant to listen
    on it starts, or while a killed node is down. Ports below the ephemeral range are never
    handed out that way, so a node can always bind them again on restart.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(10_000, max(10_001, low))
        if port in chosen:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
    return chosen


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def nats_cluster() -> Iterator[NatsCluster]:
    """A running three-node cluster with a meta leader; skipped (failed with CI=true) when
    nats-server is not installed or the cluster does not form."""
    if not Path(NATS_SERVER).is_file():
        missing_tool(f"{NATS_SERVER} is not installed: cannot run a private NATS cluster")
    for attempt in range(1, ATTEMPTS + 1):
        cluster = NatsCluster()
        try:
            cluster.start_all()
        except RuntimeError as exc:
            cluster.stop()
            if attempt == ATTEMPTS:
                missing_tool(f"a private three-node NATS cluster did not start: {exc}")
            continue
        except BaseException:
            cluster.stop()
            raise
        break
    try:
        yield cluster
    finally:
        cluster.stop()
