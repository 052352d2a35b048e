"""The official ``qstash`` SDK, imported on the first publish and no sooner.

Nothing here runs when django-qstash is imported or set up: a process that never publishes never
loads the SDK, httpx or TLS. The first publish imports the SDK as it is and builds its client
(``QStash``, or one ``AsyncQStash`` per event loop, see :mod:`django_qstash.aio`) from settings.
"""

from __future__ import annotations

from typing import Any


def settings_key() -> tuple[str | None, str | None, int]:
    """What a client is built from: the token, the QStash URL and the publish retries."""
    from django_qstash.conf import conf

    return (conf.QSTASH_TOKEN, conf.QSTASH_URL, conf.PUBLISH_RETRIES)


def client_from_settings(kind: str, key: tuple[str | None, str | None, int]) -> Any:
    """A new ``QStash`` (``kind="sync"``) or ``AsyncQStash`` (``"async"``) for
    :func:`settings_key`'s ``key``; ImproperlyConfigured without a token."""
    token, base_url, retries = key
    if not token:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "QSTASH_TOKEN is not set, so nothing can be published: set it to your QStash "
            "token from the Upstash console, or for local development run "
            "`python -m django_qstash.devserver` and use the token it prints."
        )
    from qstash import AsyncQStash, QStash

    cls = AsyncQStash if kind == "async" else QStash
    return cls(token, retry=retry_config(retries), base_url=base_url)


def retry_config(retries: int) -> Any:
    """The SDK's ``retry`` argument for ``DJANGO_QSTASH_PUBLISH_RETRIES``: none, or that many
    retries with a short exponential backoff (50 ms, 100 ms, 200 ms, ...)."""
    if retries <= 0:
        return False
    return {"retries": retries, "backoff": lambda attempt: 50 * 2**attempt}
