"""Schedules: cron parsing (with ``CRON_TZ=``), the ticker that fires them, and their API shape.

``--cron-tick SECONDS`` (dev only) makes one cron minute last that many seconds, so a test can
watch ``* * * * *`` fire within seconds; every other cron field scales the same way.
"""

from __future__ import annotations

import base64
import datetime
import logging
import threading
import time
import zoneinfo
from typing import Any

from croniter import croniter

from django_qstash.devserver import ids
from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.engine import Engine, NotFound
from django_qstash.devserver.message import Message
from django_qstash.devserver.options import check_name, parse_destination
from django_qstash.devserver.store import Schedule, Store

logger = logging.getLogger("django_qstash.devserver")

MAX_IDLE_SECONDS = 60.0


class CronExpression:
    """A 5-field crontab, evaluated in UTC or in the zone of a ``CRON_TZ=<zone>`` prefix."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        expression = self.text
        self.zone: datetime.tzinfo = datetime.timezone.utc
        if expression.upper().startswith(("CRON_TZ=", "TZ=")):
            prefix, _, expression = expression.partition(" ")
            zone_name = prefix.split("=", 1)[1]
            try:
                self.zone = zoneinfo.ZoneInfo(zone_name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise InvalidValue(f"unknown time zone {zone_name!r} in cron {text!r}") from None
        self.expression = expression.strip()
        fields = self.expression.split()
        if not self.expression.startswith("@") and len(fields) != 5:
            raise InvalidValue(f"invalid cron {text!r}: it needs 5 fields (minute to weekday)")
        if not croniter.is_valid(self.expression):
            raise InvalidValue(f"invalid cron {text!r}")

    def next_after(self, epoch_seconds: float) -> float:
        start = datetime.datetime.fromtimestamp(epoch_seconds, tz=self.zone)
        following = croniter(self.expression, start).get_next(datetime.datetime)
        assert isinstance(following, datetime.datetime)
        return following.timestamp()


class CronClock:
    """Real time, or (with a tick) a compressed cron time where a minute lasts ``tick`` s."""

    def __init__(self, tick: float | None = None, anchor: float | None = None) -> None:
        self.tick = tick
        start = time.time() if anchor is None else anchor
        self.anchor = start - start % 60

    def next_fire_ms(self, cron: CronExpression, after_ms: int) -> int:
        real = after_ms / 1000
        if not self.tick:
            return int(cron.next_after(real) * 1000)
        scale = 60 / self.tick
        virtual = self.anchor + (real - self.anchor) * scale
        following = cron.next_after(virtual)
        return int((self.anchor + (following - self.anchor) / scale) * 1000) + 1


class Scheduler:
    def __init__(self, store: Store, engine: Engine, clock: CronClock) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qstash-dev-cron", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5)

    # ---------------------------------------------------------------- API operations

    def upsert(
        self,
        *,
        destination: str,
        cron: str,
        template: Message,
        body: bytes,
        schedule_id: str | None,
        caller_ip: str | None,
    ) -> Schedule:
        expression = CronExpression(cron)
        parse_destination(destination)
        if schedule_id is not None:
            check_name("schedule id", schedule_id)
        now = now_ms()
        template.caller_ip = caller_ip
        with self._store.transaction():
            existing = self._store.get_schedule(schedule_id) if schedule_id else None
            schedule = Schedule(
                id=schedule_id or ids.schedule_id(),
                created_ms=existing.created_ms if existing else now,
                next_ms=self._clock.next_fire_ms(expression, now),
                paused=existing.paused if existing else False,
                destination=destination,
                cron=expression.text,
                template=template,
                body=body,
                last_ms=existing.last_ms if existing else None,
                last_states=existing.last_states if existing else None,
            )
            self._store.save_schedule(schedule)
        self._wake.set()
        return schedule

    def get(self, schedule_id: str) -> Schedule:
        schedule = self._store.get_schedule(schedule_id)
        if schedule is None:
            raise NotFound(f"schedule {schedule_id!r} not found")
        return schedule

    def set_paused(self, schedule_id: str, paused: bool) -> None:
        with self._store.transaction():
            schedule = self.get(schedule_id)
            schedule.paused = paused
            if not paused:
                schedule.next_ms = self._clock.next_fire_ms(CronExpression(schedule.cron), now_ms())
            self._store.save_schedule(schedule)
        self._wake.set()

    def delete(self, schedule_id: str) -> None:
        if not self._store.delete_schedule(schedule_id):
            raise NotFound(f"schedule {schedule_id!r} not found")

    # ---------------------------------------------------------------- firing

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.fire_due()
                upcoming = self._store.next_schedule_ms()
            except Exception:
                logger.exception("qstash dev server: the schedule loop failed; retrying")
                upcoming = None
            timeout = MAX_IDLE_SECONDS
            if upcoming is not None:
                timeout = min(timeout, max(0.0, (upcoming - now_ms()) / 1000))
            self._wake.wait(timeout)

    def fire_due(self) -> int:
        fired = 0
        for due in self._store.due_schedules(now_ms()):
            with self._store.transaction():
                # Re-read inside the transaction: it may have been paused or deleted meanwhile.
                schedule = self._store.get_schedule(due.id)
                if schedule is None or schedule.paused or schedule.next_ms != due.next_ms:
                    continue
                self._fire(schedule)
                fired += 1
        return fired

    def _fire(self, schedule: Schedule) -> None:
        now = now_ms()
        template = schedule.template.copy(
            schedule_id=schedule.id, not_before_ms=now + int(schedule.template.delay * 1000)
        )
        try:
            results = self._engine.publish(
                template, schedule.body, parse_destination(schedule.destination), now
            )
        except (NotFound, InvalidValue) as exc:
            schedule.error = str(exc)
            schedule.last_states = {}
        else:
            schedule.error = None
            schedule.last_states = {r["messageId"]: "IN_PROGRESS" for r in results}
        schedule.last_ms = now
        # After downtime a schedule fires once, then resumes from now (no burst of catch-ups).
        schedule.next_ms = self._clock.next_fire_ms(CronExpression(schedule.cron), now)
        self._store.save_schedule(schedule)


def schedule_to_api(schedule: Schedule) -> dict[str, Any]:
    template = schedule.template
    data: dict[str, Any] = {
        "scheduleId": schedule.id,
        "cron": schedule.cron,
        "destination": schedule.destination,
        "createdAt": schedule.created_ms,
        "method": template.method,
        "header": template.shown_headers(),
        "retries": template.retries,
        "isPaused": schedule.paused,
    }
    try:
        data["body"] = schedule.body.decode("utf-8")
    except UnicodeDecodeError:
        data["bodyBase64"] = base64.b64encode(schedule.body).decode()
    optional: dict[str, Any] = {
        "delay": int(template.delay) if template.delay else None,
        "timeout": int(template.timeout) if template.timeout else None,
        "callback": template.callback,
        "failureCallback": template.failure_callback,
        "callbackHeader": template.callback_headers or None,
        "failureCallbackHeader": template.failure_callback_headers or None,
        "retryDelayExpression": template.retry_delay,
        "queueName": template.queue_name,
        "callerIP": template.caller_ip,
        "callerIp": template.caller_ip,
        "label": template.label,
        "labels": template.labels or None,
        "lastScheduleTime": schedule.last_ms,
        "nextScheduleTime": None if schedule.paused else schedule.next_ms,
        "lastScheduleStates": schedule.last_states or None,
        "error": schedule.error,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    data.update(template.flow_control_fields())
    return data
