"""A private Mosquitto broker on a free loopback port, for tests, benchmarks and development.

Restart tests must stop and start a broker, and a throughput benchmark needs queue limits the
shared broker does not have (Mosquitto drops QoS 1 messages beyond `max_queued_messages` per
client, 1000 by default). Running a broker of our own gives both without touching the machine's.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DEFAULT_BINARY = "/usr/sbin/mosquitto"


def mosquitto_binary() -> str | None:
    """The Mosquitto executable, or None when it is not installed."""
    if os.path.exists(DEFAULT_BINARY):
        return DEFAULT_BINARY
    return shutil.which("mosquitto")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateMosquitto:
    """One broker process with its own configuration, persistence and log in `directory`."""

    def __init__(
        self,
        directory: Path,
        *,
        max_queued_messages: int = 100_000,
        max_inflight_messages: int = 1_000,
        save_every_change: bool = True,
    ) -> None:
        """`save_every_change` writes the persistence file after every change (what a restart
        test needs: nothing acknowledged is lost when the broker is killed); without it the
        broker saves once a minute, as a loaded broker would be configured."""
        binary = mosquitto_binary()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed")
        self.binary = binary
        self.port = _free_port()
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        saving = (
            "autosave_interval 1\nautosave_on_changes true\n"
            if save_every_change
            else "autosave_interval 60\n"
        )
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {directory}/",
            saving.rstrip("\n"),
            f"max_queued_messages {max_queued_messages}",
            # Unacknowledged messages per client: the pipelines acknowledge a whole batch after
            # its commit, so the broker must let a batch's worth be in flight (default 20).
            f"max_inflight_messages {max_inflight_messages}",
        ]
        if os.geteuid() == 0:
            # Started as root, mosquitto would switch to its own user, which cannot write here.
            lines.append(f"user {getpass.getuser()}")
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "mosquitto.log").open("ab"),
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if time.monotonic() > deadline:
                raise TimeoutError("mosquitto did not start listening")
            time.sleep(0.02)

    def _answers(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError("mosquitto exited; see mosquitto.log")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(10)
        self.process = None
