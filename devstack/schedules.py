"""Schedules (``Schedule``/``ScheduleV2`` events and ``AWS::Events::Rule`` schedules): timers that fire functions."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.events import scheduled_event
from devstack.functions import Invocation, LocalFunction

log = logging.getLogger("devstack")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_interval(expression: str) -> float | None:
    """Seconds between firings: exact for ``rate(...)``, one hour for any ``cron(...)``, ``None`` for ``at(...)``."""
    expression = expression.strip()
    m = _RATE.match(expression)
    if m:
        unit = m.group(2).lower().rstrip("s")
        return int(m.group(1)) * _UNIT_SECONDS[unit]
    if expression.lower().startswith("cron("):
        return 3600.0
    return None


@dataclass
class Schedule:
    function: LocalFunction
    event_name: str
    expression: str
    rule_arn: str
    input: Any = None  # the event's Input (JSON text) when given
    enabled: bool = True

    @property
    def interval(self) -> float | None:
        return schedule_interval(self.expression)

    def event(self, region: str) -> Any:
        if self.input is not None:
            return json.loads(self.input) if isinstance(self.input, str) else self.input
        return scheduled_event(self.rule_arn, region)


class ScheduleTimer:
    """One thread per enabled schedule; fires every ``interval / speed`` seconds until stopped."""

    def __init__(
        self,
        schedule: Schedule,
        stop: threading.Event,
        fire: Callable[[Schedule], Invocation],
        speed: float = 1.0,
    ) -> None:
        self.schedule = schedule
        self.stop_event = stop
        self.fire = fire
        self.speed = speed
        self.thread: threading.Thread | None = None

    def start(self) -> bool:
        interval = self.schedule.interval
        if interval is None:
            log.warning("schedule %r of %s is not emulated (fire it on demand)",
                        self.schedule.expression, self.schedule.function.logical_id)  # fmt: skip
            return False
        name = f"devstack-schedule-{self.schedule.function.logical_id}-{self.schedule.event_name}"
        self.thread = threading.Thread(target=self._loop, args=(interval / self.speed,), name=name, daemon=True)
        self.thread.start()
        return True

    def _loop(self, period: float) -> None:
        # Like EventBridge, the first firing comes one period after the rule is created.
        while not self.stop_event.wait(period):
            try:
                self.fire(self.schedule)
            except Exception:
                log.exception("schedule %s failed to fire", self.schedule.event_name)

    def join(self, timeout: float) -> None:
        if self.thread:
            self.thread.join(timeout=timeout)
