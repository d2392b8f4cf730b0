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

    def __init__(self, directory: Path, *, max_queued_messages: int = 100_000) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed")
        self.binary = binary
        self.port = _free_port()
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            "autosave_interval 1\n"
            "autosave_on_changes true\n"
            f"max_queued_messages {max_queued_messages}\n"
            # Started as root, mosquitto would switch to its own user, which cannot write here.
            + (f"user {getpass.getuser()}\n" if os.geteuid() == 0 else ""),
            encoding="utf-8",
        )
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
