"""Each function runs in processes of its own, as on Lambda: its own environment (from template.yaml), its own
imports, one invocation at a time per instance, warm between invocations, killed and replaced on timeout or crash."""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from local.model import ACCOUNT_ID, REGION, FunctionSpec


class InvocationError(Exception):
    """The function raised, timed out or crashed; `payload` is what Lambda reports (errorType, errorMessage)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


def _child_main(conn: Connection, name: str, handler: str, paths: list[str], env: dict[str, str], memory: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the stack, which stops its functions in order
    os.environ.clear()
    os.environ.update(env)
    sys.path[:0] = paths
    module_name, func_name = handler.rsplit(".", 1)
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        conn.send(("ready", None))
    except BaseException as exc:  # report import errors as Lambda does (Runtime.ImportModuleError)
        conn.send(
            (
                "error",
                {
                    "errorType": "Runtime.ImportModuleError",
                    "errorMessage": f"{type(exc).__name__}: {exc}",
                    "stackTrace": traceback.format_exc().splitlines(),
                },
            )
        )
        return
    while True:
        try:
            request_id, event, deadline = conn.recv()
        except EOFError:
            return
        context = LambdaContext(
            function_name=name,
            function_version="$LATEST",
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            memory_limit_in_mb=memory,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{name}",
            log_stream_name=f"local/{os.getpid()}",
            deadline=deadline,
        )
        try:
            conn.send(("ok", func(event, context)))
        except Exception as exc:
            conn.send(
                (
                    "error",
                    {
                        "errorType": type(exc).__name__,
                        "errorMessage": str(exc),
                        "stackTrace": traceback.format_exc().splitlines(),
                    },
                )
            )


class FunctionInstance:
    """One warm 'execution environment' of a function: a spawned process importing the handler once."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.spec = spec
        self.conn, child = ctx.Pipe()
        paths = [str(spec.code_uri), *(str(p) for p in spec.layer_dirs)]
        self.process = ctx.Process(
            target=_child_main,
            args=(child, spec.logical_id, spec.handler, paths, env, spec.memory),
            name=f"lambda:{spec.logical_id}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.ready = False

    def _await_ready(self, timeout: float) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout):
            self.kill()
            raise InvocationError({"errorType": "Runtime.InitTimeout", "errorMessage": "init did not finish"})
        status, payload = self.conn.recv()
        if status != "ready":
            self.kill()
            raise InvocationError(payload)
        self.ready = True

    def invoke(self, event: Any) -> Any:
        start = time.time()
        try:
            self._await_ready(max(10.0, self.spec.timeout))
            deadline = time.time() + self.spec.timeout
            self.conn.send((str(uuid.uuid4()), event, deadline))
            remaining = deadline - time.time()
            if not self.conn.poll(max(0.0, remaining)):
                self.kill()
                raise InvocationError(
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {self.spec.timeout:.2f} seconds",
                    }
                )
            status, payload = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            self.kill()
            raise InvocationError(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"the runtime exited ({exc.__class__.__name__}) after {time.time() - start:.2f} s",
                }
            ) from None
        if status == "error":
            raise InvocationError(payload)
        return payload

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        self.ready = False
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class FunctionPool:
    """Up to `max_instances` warm instances of one function; an invocation takes an idle one or starts one."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], max_instances: int = 2) -> None:
        self.spec = spec
        self.env = env
        self.max_instances = max_instances
        self._idle: list[FunctionInstance] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False

    def _acquire(self) -> FunctionInstance:
        with self._cond:
            while True:
                if self._closed:
                    raise InvocationError({"errorType": "Local.Stopped", "errorMessage": "the local stack is stopping"})
                if self._idle:
                    return self._idle.pop()
                if self._count < self.max_instances:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return FunctionInstance(self.spec, self.env)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, instance: FunctionInstance) -> None:
        with self._cond:
            if instance.alive and not self._closed:
                self._idle.append(instance)
            else:
                self._count -= 1
                if instance.alive:
                    instance.kill()
            self._cond.notify()

    def invoke(self, event: Any) -> Any:
        instance = self._acquire()
        try:
            return instance.invoke(event)
        finally:
            self._release(instance)

    def warm(self) -> None:
        """Start one instance and import the handler (a cold start paid before the first request)."""
        instance = self._acquire()
        try:
            instance._await_ready(max(10.0, self.spec.timeout))
        except InvocationError:
            pass
        finally:
            self._release(instance)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for instance in idle:
            instance.kill()
