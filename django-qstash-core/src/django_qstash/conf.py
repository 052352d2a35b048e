"""Settings, read lazily through one ``conf`` object.

Values are read from ``django.conf.settings`` on first use and remembered until a
``setting_changed`` signal (sent by ``override_settings``) says otherwise: the webhook reads
several settings per delivery, and each read through Django's lazy settings object is costly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from typing import Any, Generic, TypeVar, overload

from django.conf import settings
from django.core.signals import setting_changed

DEFAULT_WEBHOOK_PATH = "/qstash/webhook/"
DEFAULT_RESULT_TTL = 604_800  # 7 days
DEFAULT_MAX_BODY_SIZE = 1_048_576  # 1 MiB
DEFAULT_CLOCK_TOLERANCE = 5  # seconds


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


class setting(Generic[T]):
    """One setting of a :class:`LazySettings` subclass: read from ``django.conf.settings`` on
    first use, converted, then kept as a plain attribute of the ``conf`` object until
    ``setting_changed``, so that reading it again costs an attribute lookup and no call (the
    publish path and the webhook read several per message)."""

    def __init__(self, name: str, default: Any, convert: Callable[[Any], T]) -> None:
        self.name = name
        self.default = default
        self.convert = convert
        self.attribute = name

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> setting[T]: ...

    @overload
    def __get__(self, instance: LazySettings, owner: type | None = None) -> T: ...

    def __get__(self, instance: LazySettings | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.convert(getattr(settings, self.name, self.default))
        # A non-data descriptor: the instance attribute hides it until clear_cache() drops it.
        instance.__dict__[self.attribute] = value
        return value


class LazySettings:
    """The pattern of every app's ``conf``: one :class:`setting` per setting, its default
    declared there once, read on first use and remembered until ``setting_changed``.

    A subclass declares ``NAME = setting("DJANGO_SETTING", default, convert)`` (a value worked
    out from several is a property or a ``cached_property`` over them); one instance per app,
    connected to ``setting_changed`` with :meth:`connect` (``override_settings`` then works).
    """

    #: The attributes :meth:`clear_cache` forgets (every setting and cached_property).
    _remembered: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._remembered = tuple(
            name
            for klass in cls.__mro__
            for name, value in vars(klass).items()
            if isinstance(value, (setting, cached_property))
        )

    def __init__(self) -> None:
        #: Bumped by every :meth:`clear_cache`: what is built from settings (the publish
        #: client) compares one number per call instead of the settings themselves.
        self.generation = 0

    def clear_cache(self, **kwargs: Any) -> None:
        for name in self._remembered:
            self.__dict__.pop(name, None)
        self.generation += 1

    def connect(self, dispatch_uid: str) -> None:
        setting_changed.connect(self.clear_cache, dispatch_uid=dispatch_uid)


def _optional_str_setting(name: str) -> setting[str | None]:
    return setting(name, None, _optional_str)


class Settings(LazySettings):
    """Every setting django-qstash reads, with its default."""

    QSTASH_TOKEN = _optional_str_setting("QSTASH_TOKEN")
    QSTASH_CURRENT_SIGNING_KEY = _optional_str_setting("QSTASH_CURRENT_SIGNING_KEY")
    QSTASH_NEXT_SIGNING_KEY = _optional_str_setting("QSTASH_NEXT_SIGNING_KEY")
    #: The QStash API base URL; ``None`` means the SDK's default (the Upstash cloud).
    QSTASH_URL = setting("QSTASH_URL", None, _url_or_environ)
    DOMAIN = _optional_str_setting("DJANGO_QSTASH_DOMAIN")
    WEBHOOK_PATH = setting("DJANGO_QSTASH_WEBHOOK_PATH", None, _webhook_path)
    FORCE_HTTPS = setting("DJANGO_QSTASH_FORCE_HTTPS", True, bool)
    RESULT_TTL = setting("DJANGO_QSTASH_RESULT_TTL", DEFAULT_RESULT_TTL, int)
    ALWAYS_EAGER = setting("DJANGO_QSTASH_ALWAYS_EAGER", False, bool)
    EAGER_PROPAGATES = setting("DJANGO_QSTASH_EAGER_PROPAGATES", False, bool)
    MAX_BODY_SIZE = setting("DJANGO_QSTASH_MAX_BODY_SIZE", DEFAULT_MAX_BODY_SIZE, int)
    CLOCK_TOLERANCE = setting("DJANGO_QSTASH_CLOCK_TOLERANCE", DEFAULT_CLOCK_TOLERANCE, int)
    #: How often the SDK retries a failed publish (connection errors, lost answers).
    PUBLISH_RETRIES = setting("DJANGO_QSTASH_PUBLISH_RETRIES", 3, int)
    #: Celery's setting, read only to say that django-qstash does not follow it.
    CELERY_TASK_ALWAYS_EAGER = setting("CELERY_TASK_ALWAYS_EAGER", False, bool)
    #: ``qstash_dev``: True for fast retries, or a retry-wait scale factor.
    DEV_FAST_RETRIES = setting("DJANGO_QSTASH_DEV_FAST_RETRIES", None, _bool_or_float)
    #: ``qstash_dev``: how many seconds one cron minute lasts.
    DEV_CRON_TICK = setting("DJANGO_QSTASH_DEV_CRON_TICK", None, _positive_float)

    @cached_property
    def webhook_url(self) -> str:
        """The absolute URL QStash delivers to, built from settings, never from a request."""
        return self.absolute_url(self.WEBHOOK_PATH)

    @cached_property
    def public_origin(self) -> str:
        """``DJANGO_QSTASH_DOMAIN`` with its scheme (https when forced), without a trailing slash:
        what every URL QStash delivers to on this site starts with."""
        return self._build_origin()

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
