"""Settings, read lazily through one ``conf`` object.

Values are read from ``django.conf.settings`` on first use and remembered until a
``setting_changed`` signal (sent by ``override_settings``) says otherwise: the webhook reads
several settings per delivery, and each read through Django's lazy settings object is costly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed

DEFAULT_WEBHOOK_PATH = "/qstash/webhook/"
DEFAULT_RESULT_TTL = 604_800  # 7 days
DEFAULT_MAX_BODY_SIZE = 1_048_576  # 1 MiB
DEFAULT_CLOCK_TOLERANCE = 5  # seconds


_MISSING = object()
T = TypeVar("T")


def _optional_str(value: Any) -> str | None:
    return str(value) if value else None


def _url_or_environ(value: Any) -> str | None:
    # The original package set os.environ["QSTASH_URL"] from settings, so honour both.
    return _optional_str(value) or os.environ.get("QSTASH_URL") or None


def _bool_or_float(value: Any) -> bool | float | None:
    if value is None or isinstance(value, bool):
        return value
    return float(value)


def _positive_float(value: Any) -> float | None:
    return float(value) if value else None


def _webhook_path(value: Any) -> str:
    return value or DEFAULT_WEBHOOK_PATH


class LazySettings:
    """The pattern of every app's ``conf``: one property per setting, its default declared
    there once, read on first use and remembered until ``setting_changed``.

    A subclass declares properties that call :meth:`_get`; one instance per app, connected to
    ``setting_changed`` with :meth:`connect` (``override_settings`` then works).
    """

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        #: Bumped by every :meth:`clear_cache`: what is built from settings (the publish
        #: client) compares one number per call instead of the settings themselves.
        self.generation = 0

    def clear_cache(self, **kwargs: Any) -> None:
        self._cache.clear()
        self.generation += 1

    def connect(self, dispatch_uid: str) -> None:
        setting_changed.connect(self.clear_cache, dispatch_uid=dispatch_uid)

    def _get(self, name: str, default: Any, convert: Callable[[Any], T]) -> T:
        # The converted value is what is remembered: the webhook reads these on every delivery.
        value = self._cache.get(name, _MISSING)
        if value is _MISSING:
            value = self._cache[name] = convert(getattr(settings, name, default))
        return value  # type: ignore[no-any-return]


class Settings(LazySettings):
    """Every setting django-qstash reads, with its default."""

    def _str(self, name: str) -> str | None:
        return self._get(name, None, _optional_str)

    @property
    def QSTASH_TOKEN(self) -> str | None:
        return self._str("QSTASH_TOKEN")

    @property
    def QSTASH_CURRENT_SIGNING_KEY(self) -> str | None:
        return self._str("QSTASH_CURRENT_SIGNING_KEY")

    @property
    def QSTASH_NEXT_SIGNING_KEY(self) -> str | None:
        return self._str("QSTASH_NEXT_SIGNING_KEY")

    @property
    def QSTASH_URL(self) -> str | None:
        """The QStash API base URL; ``None`` means the SDK's default (the Upstash cloud)."""
        return self._get("QSTASH_URL", None, _url_or_environ)

    @property
    def DOMAIN(self) -> str | None:
        return self._str("DJANGO_QSTASH_DOMAIN")

    @property
    def WEBHOOK_PATH(self) -> str:
        return self._get("DJANGO_QSTASH_WEBHOOK_PATH", None, _webhook_path)

    @property
    def FORCE_HTTPS(self) -> bool:
        return self._get("DJANGO_QSTASH_FORCE_HTTPS", True, bool)

    @property
    def RESULT_TTL(self) -> int:
        return self._get("DJANGO_QSTASH_RESULT_TTL", DEFAULT_RESULT_TTL, int)

    @property
    def ALWAYS_EAGER(self) -> bool:
        return self._get("DJANGO_QSTASH_ALWAYS_EAGER", False, bool)

    @property
    def EAGER_PROPAGATES(self) -> bool:
        return self._get("DJANGO_QSTASH_EAGER_PROPAGATES", False, bool)

    @property
    def MAX_BODY_SIZE(self) -> int:
        return self._get("DJANGO_QSTASH_MAX_BODY_SIZE", DEFAULT_MAX_BODY_SIZE, int)

    @property
    def CLOCK_TOLERANCE(self) -> int:
        return self._get("DJANGO_QSTASH_CLOCK_TOLERANCE", DEFAULT_CLOCK_TOLERANCE, int)

    @property
    def PUBLISH_RETRIES(self) -> int:
        """How often the SDK retries a failed publish (connection errors, lost answers)."""
        return self._get("DJANGO_QSTASH_PUBLISH_RETRIES", 3, int)

    @property
    def CELERY_TASK_ALWAYS_EAGER(self) -> bool:
        """Celery's setting, read only to say that django-qstash does not follow it."""
        return self._get("CELERY_TASK_ALWAYS_EAGER", False, bool)

    @property
    def DEV_FAST_RETRIES(self) -> bool | float | None:
        """``qstash_dev``: True for fast retries, or a retry-wait scale factor."""
        return self._get("DJANGO_QSTASH_DEV_FAST_RETRIES", None, _bool_or_float)

    @property
    def DEV_CRON_TICK(self) -> float | None:
        """``qstash_dev``: how many seconds one cron minute lasts."""
        return self._get("DJANGO_QSTASH_DEV_CRON_TICK", None, _positive_float)

    @property
    def webhook_url(self) -> str:
        """The absolute URL QStash delivers to, built from settings, never from a request."""
        url: str | None = self._cache.get("webhook_url")
        if url is None:
            url = self._cache["webhook_url"] = self._build_webhook_url()
        return url

    @property
    def public_origin(self) -> str:
        """``DJANGO_QSTASH_DOMAIN`` with its scheme (https when forced), without a trailing slash:
        what every URL QStash delivers to on this site starts with."""
        origin: str | None = self._cache.get("public_origin")
        if origin is None:
            origin = self._cache["public_origin"] = self._build_origin()
        return origin

    def _build_webhook_url(self) -> str:
        return self.absolute_url(self.WEBHOOK_PATH)

    def absolute_url(self, path: str) -> str:
        """``path`` on DJANGO_QSTASH_DOMAIN (https forced unless DJANGO_QSTASH_FORCE_HTTPS is
        off): where QStash delivers, built from settings, never from a request."""
        if not path.startswith("/"):
            path = "/" + path
        return self.public_origin + path

    def _build_origin(self) -> str:
        domain = (self.DOMAIN or "").strip().rstrip("/")
        if not domain:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "DJANGO_QSTASH_DOMAIN is not set: django-qstash needs the public origin QStash "
                "delivers to, for example DJANGO_QSTASH_DOMAIN = 'https://example.com'."
            )
        if "://" not in domain:
            domain = f"https://{domain}"
        if self.FORCE_HTTPS and domain.startswith("http://"):
            domain = "https://" + domain[len("http://") :]
        return domain


conf = Settings()
conf.connect("django_qstash.conf.clear_cache")
