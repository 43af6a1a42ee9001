"""`make dev` in the foreground: the gateway served from the main thread until Ctrl-C or SIGTERM, the address printed
once the stack answers (every HTTP function warm, GET /api/health answered: DESIGN.md §3), everything stopped at the
end.

    python -m local            # what `make dev` runs; Ctrl-C stops everything and keeps the data
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from typing import Any

from local.demo import DEMO_USERNAME
from local.stack import LocalConfig, LocalStack


def serve_forever(stack: LocalStack, started: float) -> None:
    """Run the gateway in this thread until Ctrl-C / SIGTERM, then stop everything; `started` is the perf_counter()
    reading the time to "ready" counts from."""
    server = stack.http_server()
    threading.Thread(target=announce, args=(stack, server, started), daemon=True, name="announce").start()
    # uvicorn shuts down on SIGTERM, then raises it again with this handler back in place: as Ctrl-C, so the finally
    # below still stops moto and the functions (the default action would end the process first).
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.run(sockets=stack.sockets())
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it already handled by shutting down
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.stop()
        print("  labfolio local stack stopped", flush=True)


def announce(stack: LocalStack, server: Any, started: float, timeout: float = 180.0) -> None:
    """Print the address when it is worth opening: the gateway listens, every HTTP function has a warm instance and
    GET /api/health has answered 200 (a newcomer who opens it at once gets the page, not a wait)."""
    deadline = time.monotonic() + timeout
    while not server.started and time.monotonic() < deadline:
        if stack.stopping.wait(0.02):
            return
    stack.wait_warm(max(0.0, deadline - time.monotonic()))
    base = f"http://{stack.config.host}:{stack.port}"
    answered = wait_healthy(f"{base}/api/health", deadline, stack.stopping)
    if stack.stopping.is_set():
        return
    state = f"ready in {time.perf_counter() - started:.1f} s" if answered else "started, but /api/health fails"
    data_dir = stack.config.data_dir
    print(
        f"\n  labfolio local stack {state}: {base}/  (API under /api, docs at /api/docs; "
        f"AWS_ENDPOINT_URL={stack.moto.endpoint})\n  Ctrl-C stops it; data stays in {data_dir}\n  demo account: "
        f"{DEMO_USERNAME} / {stack.demo_password}  (kept in {data_dir / 'demo_password'})\n",
        flush=True,
    )


def wait_healthy(url: str, deadline: float, stopping: threading.Event) -> bool:
    """Poll `url` until it answers 200 (True), the deadline passes or the stack stops (False)."""
    while time.monotonic() < deadline and not stopping.is_set():
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - the stack's own address
                if answer.status == 200:
                    return True
        except OSError:
            pass
        stopping.wait(0.1)
    return False


def main() -> int:
    started = time.perf_counter()
    logging.basicConfig(
        level=os.environ.get("LABFOLIO_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    serve_forever(LocalStack(LocalConfig.from_env()).start(), started)
    return 0
