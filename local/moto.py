"""moto's server as local AWS, in its own process; everything reaches it only through AWS_ENDPOINT_URL."""

from __future__ import annotations

import errno
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request

from local.model import REGION

log = logging.getLogger("labfolio.local")


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
    """The port asked for is taken (another local stack's moto server, or any other program)."""


class MotoServer:
    """moto's server in a process of its own, on a listening socket this process binds and hands over (werkzeug's
    WERKZEUG_SERVER_FD): whatever answers on `endpoint` is this server, never another stack's that happened to hold
    the port first (DESIGN.md §3). With `fallback`, a taken port gives way to a free one, which `endpoint` names."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, fallback: bool = False) -> None:
        self.host = host
        self.requested_port = port
        self.port = port
        self.fallback = fallback
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> socket.socket:
        try:
            return socket.create_server((self.host, self.requested_port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            if not self.fallback:
                raise PortTakenError(
                    f"port {self.requested_port} on {self.host} is taken (another local stack's moto server?): "
                    "set LABFOLIO_MOTO_PORT to a free port, or to 0 for any free port"
                ) from exc
        listener = socket.create_server((self.host, 0))
        log.warning(
            "port %d is taken (another local stack?): this stack's moto server takes the free port %d",
            self.requested_port,
            listener.getsockname()[1],
        )
        return listener

    def start(self, timeout: float = 30.0) -> MotoServer:
        listener = self._bind()
        self.port = int(listener.getsockname()[1])
        env = {
            **os.environ,
            **aws_environment(self.endpoint),
            "MOTO_PORT": str(self.port),
            # werkzeug serves on an inherited socket when it believes it runs under its reloader
            "WERKZEUG_RUN_MAIN": "true",
            "WERKZEUG_SERVER_FD": str(listener.fileno()),
        }
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
                env=env,
                pass_fds=(listener.fileno(),),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal is for the stack, which stops moto after saving S3
            )
        finally:
            listener.close()  # the child holds it now: if the child dies, connections are refused, not left waiting
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited at start with {self.process.returncode}")
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
