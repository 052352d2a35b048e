"""The official ``qstash`` SDK, imported on the first publish and no sooner, and lighter.

Nothing here runs when django-qstash is imported or set up: a process that never publishes never
loads the SDK, httpx or TLS. When it does, three optional imports that a Django process
publishing to QStash never uses are deferred (measured: together most of the SDK's import time
where they are installed, as in any project whose dependencies bring them):

* ``httpx._main``, httpx's command-line interface, which imports click, rich and pygments;
  ``httpx.main`` then tells how to install the CLI (the ``httpx`` command itself is unaffected);
* ``trio`` and ``anyio``, which httpcore imports eagerly for async clients (under trio, and
  under asyncio), although a synchronous publish needs neither;
* ``jwt`` (PyJWT), which the SDK's ``Receiver`` imports; django-qstash verifies signatures
  without it.

``trio``, ``anyio`` and ``jwt`` are replaced by stand-ins that import the real module on first
use, so code that does use them behaves as before.

The clients django-qstash builds (:func:`new_client`) share one TLS context per process, the one
httpx would build for each (certifi's store, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``): loading the
store is the costliest step of building a client, and an async client is built per event loop.
A client whose QStash URL is plain ``http://`` (the dev server) gets a context that trusts no
certificate at all instead, since it never makes a TLS connection.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import types
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import ssl

_lock = threading.Lock()

#: Imported lazily through a stand-in: (module name, on first use).
_DEFERRED = ("trio", "anyio", "jwt")
#: Not imported at all (its importer falls back): httpx's command-line interface.
_SKIPPED = ("httpx._main",)


class _Deferred(types.ModuleType):
    """Stands in for a module until one of its attributes is used, then imports it."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        real = sys.modules.get(self.__name__)
        if real is None or real is self:
            sys.modules.pop(self.__name__, None)
            real = importlib.import_module(self.__name__)
        # Later look-ups find the attributes directly.
        self.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
        return getattr(real, name)


_loaded: list[types.ModuleType] = []


def load() -> types.ModuleType:
    """The ``qstash`` package, imported once (thread-safe) with the deferrals above (unless
    something imported it before)."""
    if _loaded:
        return _loaded[0]
    with _lock:
        if _loaded:
            return _loaded[0]
        module = sys.modules.get("qstash")
        if module is None:
            module = _import_deferring()
        _route_clients_through(module)
        _loaded.append(module)
        return module


def _import_deferring() -> types.ModuleType:
    placed: dict[str, types.ModuleType | None] = {}
    if "httpx" not in sys.modules:
        for name in _SKIPPED:
            placed[name] = sys.modules[name] = None  # type: ignore[assignment]
    for name in _DEFERRED:
        if name not in sys.modules and importlib.util.find_spec(name) is not None:
            placed[name] = sys.modules[name] = _Deferred(name)
    try:
        # httpx imports httpcore when it builds its first client: here, with the deferrals.
        importlib.import_module("httpcore")
        return importlib.import_module("qstash")
    finally:
        # Whoever imports these from now on gets the real modules.
        for name, stand_in in placed.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


_building = threading.local()


class _HttpxForSDK:
    """What the SDK's HTTP modules see as ``httpx``: httpx itself, except that a client built by
    :func:`new_client` (on this thread, now) gets the TLS context chosen for it."""

    def __init__(self, httpx: Any) -> None:
        self._httpx = httpx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._httpx, name)

    def _chosen(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        context = getattr(_building, "context", None)
        if context is not None:
            kwargs.setdefault("verify", context)
        return kwargs

    def Client(self, **kwargs: Any) -> Any:
        return self._httpx.Client(**self._chosen(kwargs))

    def AsyncClient(self, **kwargs: Any) -> Any:
        return self._httpx.AsyncClient(**self._chosen(kwargs))


def _route_clients_through(qstash: types.ModuleType) -> None:
    # The SDK builds its httpx client in its constructors and offers no way to pass one in; its
    # HTTP modules use the name ``httpx`` for nothing else at run time.
    for name in ("qstash.http", "qstash.asyncio.http"):
        module = importlib.import_module(name)
        httpx = getattr(module, "httpx")  # noqa: B009  (a module attribute mypy cannot see)
        if not isinstance(httpx, _HttpxForSDK):
            setattr(module, "httpx", _HttpxForSDK(httpx))  # noqa: B010


_contexts: dict[str, ssl.SSLContext] = {}


def tls_context(base_url: str | None) -> ssl.SSLContext:
    """The process's TLS context for a client of ``base_url`` (see the module's docstring)."""
    import ssl

    kind = "none" if (base_url or "").startswith("http://") else "verified"
    context = _contexts.get(kind)
    if context is None:
        if kind == "none":
            # Verification stays on and nothing is trusted: a TLS connection fails, never
            # passes unchecked.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        elif os.environ.get("SSL_CERT_FILE"):  # the store httpx would choose
            context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        elif os.environ.get("SSL_CERT_DIR"):
            context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
        else:
            import certifi

            context = ssl.create_default_context(cafile=certifi.where())
        context = _contexts.setdefault(kind, context)
    return context


C = TypeVar("C")


def new_client(cls: type[C], token: str, *, retry: Any, base_url: str | None) -> C:
    """``cls(token, retry=retry, base_url=base_url)`` (the SDK's ``QStash`` or
    ``AsyncQStash``), with the shared TLS context."""
    load()
    _building.context = tls_context(base_url or os.environ.get("QSTASH_URL"))
    try:
        return cls(token, retry=retry, base_url=base_url)  # type: ignore[call-arg]
    finally:
        _building.context = None


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
    qstash = load()
    cls = qstash.AsyncQStash if kind == "async" else qstash.QStash
    return new_client(cls, token, retry=retry_config(retries), base_url=base_url)


def retry_config(retries: int) -> Any:
    """The SDK's ``retry`` argument for ``DJANGO_QSTASH_PUBLISH_RETRIES``: none, or that many
    retries with a short exponential backoff (50 ms, 100 ms, 200 ms, ...)."""
    if retries <= 0:
        return False
    return {"retries": retries, "backoff": lambda attempt: 50 * 2**attempt}
