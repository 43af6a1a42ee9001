"""moto's server as local AWS, in its own process; everything reaches it only through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

from local.model import REGION


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aws_environment(endpoint: str) -> dict[str, str]:
    """The variables that point boto3 at the moto server (dummy credentials: moto accepts any)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


class PortTakenError(RuntimeError):
    """moto's server exited at start, almost always because its port is in use."""


class MotoServer:
    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.auto_port = not port  # a port we picked may be taken by someone else before moto binds it: retry
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoServer:
        for attempt in range(3 if self.auto_port else 1):
            try:
                return self._start(timeout)
            except PortTakenError:
                if attempt == 2 or not self.auto_port:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> MotoServer:
        env = {**os.environ, **aws_environment(self.endpoint)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal is for the stack, which stops moto after saving S3
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PortTakenError(f"moto server exited with {self.process.returncode} (is port {self.port} taken?)")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):  # noqa: S310 - local URL
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint} within {timeout:.0f} s")

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310 - local URL
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - local URL
            pass

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
