"""The QStash side of schedules: the client, its errors, and reading what QStash holds.

Only ``django_qstash.hooks`` of core is used: the shared ``qstash.QStash`` client, the webhook
URL, the message builder (to recognise a django-qstash envelope) and the SDK-error reader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured

from django_qstash import hooks

T = TypeVar("T")

RUN_HINT = "run `python manage.py task_schedules --sync` (or the admin's 'sync now') to retry"


class ScheduleSyncError(hooks.DjangoQStashError):
    """A schedule could not be pushed to (or read from) QStash; the message says why."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def not_found(self) -> bool:
        return self.status == 404


# ------------------------------------------------------------------------------ the wire


def client() -> Any:
    """The shared ``qstash.QStash`` client (core's, through the hook API)."""
    return hooks.get_qstash_client()


def destination() -> str:
    """Where every schedule of this project delivers: the webhook URL from settings."""
    return hooks.webhook_url()


def _base_url() -> str:
    try:
        return str(client().http._base_url)
    except Exception:  # pragma: no cover - only used to word an error
        return "QStash"


def translate_error(exc: BaseException, action: str) -> ScheduleSyncError:
    """A clear, storable message for anything the SDK (or its transport) raised."""
    if isinstance(exc, ScheduleSyncError):
        return exc
    if isinstance(exc, (ImproperlyConfigured, hooks.DjangoQStashError)):
        return ScheduleSyncError(f"Cannot {action}: {exc}")
    failure = hooks.translate_sdk_error(exc)
    if failure.kind in ("rate_limited", "daily_limit"):
        return ScheduleSyncError(
            f"QStash rate-limited the request to {action} (HTTP 429); {RUN_HINT} later.",
            status=429,
        )
    if failure.kind == "refused":
        if failure.status is None:
            return ScheduleSyncError(f"QStash refused to {action}: {exc}.")
        hint = {
            401: "check QSTASH_TOKEN",
            403: "check QSTASH_TOKEN and the plan's limits",
            404: "it does not exist on QStash",
        }.get(failure.status, "see QStash's answer")
        return ScheduleSyncError(
            f"QStash refused to {action} (HTTP {failure.status}: {failure.reason}); {hint}.",
            status=failure.status,
        )
    if failure.kind == "unreachable":
        return ScheduleSyncError(
            f"Could not reach QStash at {_base_url()} to {action} "
            f"({type(exc).__name__}: {exc or 'no answer'}); check QSTASH_URL and the network."
        )
    return ScheduleSyncError(
        f"Unexpected error while trying to {action}: {type(exc).__name__}: {exc}"
    )


def call(action: str, function: Callable[[], T]) -> T:
    try:
        return function()
    except Exception as exc:
        raise translate_error(exc, action) from exc


def delete_remote(schedule_id: str) -> None:
    """Delete a QStash schedule; one that is already gone counts as deleted."""
    sdk = client()
    try:
        call(f"delete schedule {schedule_id}", lambda: sdk.schedule.delete(schedule_id))
    except ScheduleSyncError as exc:
        if not exc.not_found:
            raise


# ------------------------------------------------------------------------------ reading QStash


def list_remote() -> tuple[list[Any], int]:
    """QStash schedules that deliver to this project's webhook, and how many others exist."""
    target = destination()
    sdk = client()
    schedules = call("list schedules", lambda: sdk.schedule.list())
    mine = [s for s in schedules if s.destination == target]
    return sorted(mine, key=lambda s: s.schedule_id), len(schedules) - len(mine)


def body_json(remote: Any) -> Any:
    body = remote.body
    if body is None and getattr(remote, "body_base64", None):
        import base64

        try:
            body = base64.b64decode(remote.body_base64).decode()
        except (ValueError, UnicodeDecodeError):
            return None
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


@dataclass(frozen=True)
class RemoteTask:
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]


def parse_envelope(remote: Any) -> RemoteTask | None:
    """The task call a remote schedule carries, when its body is a django-qstash envelope.

    Recognised by rebuilding it with core's message builder: the same JSON means the same
    envelope (version and all), without this app knowing the wire format."""
    data = body_json(remote)
    if not isinstance(data, dict):
        return None
    task_name, args, kwargs = data.get("task"), data.get("args", []), data.get("kwargs", {})
    options = data.get("options", {})
    if not (isinstance(task_name, str) and task_name and isinstance(args, list)):
        return None
    if not (isinstance(kwargs, dict) and isinstance(options, dict)):
        return None
    try:
        rebuilt = json.loads(hooks.build_message(task_name, args, kwargs, options))
    except (hooks.ArgumentsNotSerializable, TypeError, ValueError):
        return None
    if rebuilt != data:
        return None
    return RemoteTask(task_name, args, kwargs, options)
