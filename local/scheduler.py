"""EventBridge schedules, emulated: invoke the function with a scheduled event at start and then on the template's
schedule (rate(...) or a daily cron(M H * * ? *)); anything else falls back to once a day."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from local.events import scheduled_event
from local.runtime import InvocationError

log = logging.getLogger("labfolio.local")

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_DAILY_CRON = re.compile(r"^cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)$")


def next_run(expression: str, after: datetime) -> datetime:
    rate = _RATE.match(expression)
    if rate:
        unit = rate.group(2).rstrip("s")
        return after + timedelta(**{f"{unit}s": int(rate.group(1))})
    cron = _DAILY_CRON.match(expression)
    if cron:
        minute, hour = int(cron.group(1)), int(cron.group(2))
        candidate = after.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return candidate if candidate > after else candidate + timedelta(days=1)
    return after + timedelta(days=1)


class Scheduler(threading.Thread):
    def __init__(
        self, expression: str, rule_arn: str, invoke: Callable[[dict[str, Any]], Any], run_at_start: bool = True
    ) -> None:
        super().__init__(name=f"scheduler:{rule_arn.rsplit('/', 1)[-1]}", daemon=True)
        self.expression, self.rule_arn, self.invoke = expression, rule_arn, invoke
        self.run_at_start = run_at_start
        self._stopping = threading.Event()
        self.runs = 0
        self.last_result: Any = None

    def stop(self) -> None:
        self._stopping.set()

    def fire(self) -> Any:
        try:
            self.last_result = self.invoke(scheduled_event(self.rule_arn))
            log.info("scheduled %s ran: %s", self.rule_arn.rsplit("/", 1)[-1], self.last_result)
        except InvocationError as exc:
            self.last_result = exc.payload
            log.error("scheduled %s failed: %s", self.rule_arn, exc)
        self.runs += 1
        return self.last_result

    def run(self) -> None:
        if self.run_at_start:
            self.fire()
        while not self._stopping.is_set():
            now = datetime.now(UTC)
            if self._stopping.wait((next_run(self.expression, now) - now).total_seconds()):
                return
            self.fire()
