"""The official ``qstash`` SDK, imported on the first publish and no sooner.

Nothing here runs when django-qstash is imported or set up: a process that never publishes never
loads the SDK, httpx or TLS. The first publish imports the SDK as it is and builds its client
(``QStash``, or one ``AsyncQStash`` per event loop, see :mod:`django_qstash.aio`) from settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qstash import AsyncQStash


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

    if kind != "async":
        return QStash(token, retry=retry_config(retries), base_url=base_url)
    client = AsyncQStash(token, retry=retry_config(retries), base_url=base_url)
    spread_connections(client)
    return client


def spread_connections(client: AsyncQStash) -> None:
    """Give an ``AsyncQStash`` an httpx client whose transport spreads concurrent publishes over
    kept-alive connections (:mod:`django_qstash.sdk_transport` says why).

    The SDK offers no way to configure its httpx client: ``AsyncQStash`` builds a default
    ``httpx.AsyncClient`` into ``client.http._client``. So this replaces that one attribute,
    right after the SDK built it and before it sent anything, with a client built through
    httpx's public API: the SDK's own timeout, our transport. Every call of the SDK then goes
    through it, unchanged otherwise.
    """
    import httpx
    from qstash.http import DEFAULT_TIMEOUT

    from django_qstash.sdk_transport import SpreadTransport

    client.http._client = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, transport=SpreadTransport())


def retry_config(retries: int) -> Any:
    """The SDK's ``retry`` argument for ``DJANGO_QSTASH_PUBLISH_RETRIES``: none, or that many
    retries with a short exponential backoff (50 ms, 100 ms, 200 ms, ...)."""
    if retries <= 0:
        return False
    return {"retries": retries, "backoff": lambda attempt: 50 * 2**attempt}
