"""Receive QStash messages in your own views: the webhook's signature check, for any URL.

``@verify_qstash`` (sync or async views) and :func:`verify_qstash_request` check a request
exactly as the task webhook does: the raw body bytes, the current then the next signing key,
``DJANGO_QSTASH_CLOCK_TOLERANCE``, and the URL the message was published to, built from
``DJANGO_QSTASH_DOMAIN`` and the request's path and query string (never its Host header) unless
given. A signature that does not verify gets 401; with the results app installed, a signed
request seen before (a replay) gets 403. The view then finds the verified message on
``request.qstash`` (a :class:`QStashMessage`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from django_qstash import signing
from django_qstash.conf import conf
from django_qstash.exceptions import DjangoQStashError
from django_qstash.store_registry import get_result_store

logger = logging.getLogger("django_qstash")

__all__ = [
    "InvalidSignature",
    "QStashMessage",
    "ReplayedSignature",
    "verify_qstash",
    "verify_qstash_request",
]


class InvalidSignature(DjangoQStashError):
    """The request carries no valid QStash signature (answered with 401)."""

    status = 401
    reason = "invalid_signature"


class ReplayedSignature(DjangoQStashError):
    """This signed request was received before (answered with 403)."""

    status = 403
    reason = "replayed"


class BodyTooLarge(DjangoQStashError):
    """The body is larger than ``DJANGO_QSTASH_MAX_BODY_SIZE`` (answered with 413)."""

    status = 413
    reason = "too_large"


@dataclass(frozen=True)
class QStashMessage:
    """A verified QStash delivery, as the view sees it on ``request.qstash``."""

    #: ``Upstash-Message-Id`` (or, without it, an id derived from the signature).
    message_id: str
    #: ``Upstash-Retried``: 0 on the first delivery.
    retried: int
    #: The URL the signature was checked against.
    url: str
    schedule_id: str | None = None
    #: The signature's ``jti`` and its verified claims.
    signature_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def attempt(self) -> int:
        """1 on the first delivery."""
        return self.retried + 1


def fallback_message_id(claims: Mapping[str, Any]) -> str:
    """An id for a delivery without ``Upstash-Message-Id`` (QStash always sends one): the signed
    token identifies the request, so a replay of it is still recognised."""
    jti = claims.get("jti")
    if isinstance(jti, str) and jti:
        return f"jti:{jti}"
    digest = hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).hexdigest()
    return f"sig:{digest[:40]}"


def header_count(meta: Mapping[str, Any], key: str) -> int:
    """A non-negative whole-number header such as ``Upstash-Retried`` (0 when absent or bad)."""
    try:
        return max(0, int(meta.get(key) or 0))
    except ValueError:
        return 0


def _signed_url(request: HttpRequest, url: str | None) -> str:
    return url if url is not None else conf.public_origin + request.get_full_path()


def verify_signature(request: HttpRequest, *, url: str | None = None) -> QStashMessage:
    """Check the signature of ``request`` (no replay check); raise an error carrying the answer's
    status, or return the verified message."""
    meta = request.META
    limit = conf.MAX_BODY_SIZE
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    body = request.body
    if len(body) > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    signed_url = _signed_url(request, url)
    try:
        claims = signing.verify(
            meta.get("HTTP_UPSTASH_SIGNATURE"),
            body,
            url=signed_url,
            keys=(conf.QSTASH_CURRENT_SIGNING_KEY, conf.QSTASH_NEXT_SIGNING_KEY),
            leeway=conf.CLOCK_TOLERANCE,
        )
    except signing.SignatureError as exc:
        raise InvalidSignature(str(exc)) from None
    jti = claims.get("jti")
    return QStashMessage(
        message_id=meta.get("HTTP_UPSTASH_MESSAGE_ID") or fallback_message_id(claims),
        retried=header_count(meta, "HTTP_UPSTASH_RETRIED"),
        url=signed_url,
        schedule_id=meta.get("HTTP_UPSTASH_SCHEDULE_ID") or None,
        signature_id=jti if isinstance(jti, str) else None,
        claims=claims,
    )


def check_replay(message: QStashMessage) -> None:
    """Remember the signature with the registered result store, when it can (the results app);
    raise :class:`ReplayedSignature` if it was seen before. Without such a store, nothing."""
    remember = getattr(get_result_store(), "remember_signature", None)
    if remember is None or not message.signature_id:
        return
    expires = message.claims.get("exp")
    if not remember(message.signature_id, message.message_id, float(expires or 0)):
        raise ReplayedSignature("this signed request was already received")


def verify_qstash_request(request: HttpRequest, *, url: str | None = None) -> QStashMessage:
    """Verify ``request`` as the webhook does; return the message or raise
    :class:`InvalidSignature` (401), :class:`ReplayedSignature` (403) or a 413 error.

    ``url`` is the URL the message was published to; by default ``DJANGO_QSTASH_DOMAIN`` plus
    the request's path and query string.
    """
    message = verify_signature(request, url=url)
    check_replay(message)
    return message


def refusal(exc: DjangoQStashError) -> HttpResponse:
    """The answer to a request that failed verification: its status and a JSON reason."""
    status = getattr(exc, "status", 401)
    logger.warning("django-qstash refused a request to a QStash view: %s", exc)
    return JsonResponse(
        {"status": getattr(exc, "reason", "refused"), "error": str(exc)}, status=status
    )


_REFUSED = (InvalidSignature, BodyTooLarge)

V = TypeVar("V", bound=Callable[..., Any])


def _decorate(view: V, url: str | None) -> V:
    from asgiref.sync import iscoroutinefunction, sync_to_async

    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                message = verify_signature(request, url=url)
            except _REFUSED as exc:
                return refusal(exc)
            # The replay store writes to the database: off the event loop.
            refused = await sync_to_async(_replay_refusal)(message)
            if refused is not None:
                return refused
            request.qstash = message  # type: ignore[attr-defined]
            return await view(request, *args, **kwargs)

        return csrf_exempt(async_view)  # type: ignore[return-value]

    @functools.wraps(view)
    def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            message = verify_signature(request, url=url)
        except _REFUSED as exc:
            return refusal(exc)
        refused = _replay_refusal(message)
        if refused is not None:
            return refused
        request.qstash = message  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return csrf_exempt(sync_view)  # type: ignore[return-value]


def _replay_refusal(message: QStashMessage) -> HttpResponse | None:
    """None if the view may run; else 403 for a replay, or 503 when the store cannot be asked
    (nothing ran, so QStash retries), as the webhook answers."""
    try:
        check_replay(message)
    except ReplayedSignature as exc:
        return refusal(exc)
    except Exception as exc:
        logger.exception("django-qstash could not check %s for replay", message.message_id)
        response = JsonResponse(
            {"status": "store_unavailable", "error": f"{type(exc).__name__}: {exc}"}, status=503
        )
        response["Retry-After"] = "5"
        return response
    return None


@overload
def verify_qstash(view: V, /) -> V: ...


@overload
def verify_qstash(*, url: str | None = None) -> Callable[[V], V]: ...


def verify_qstash(view: V | None = None, /, *, url: str | None = None) -> V | Callable[[V], V]:
    """Decorate a sync or async view so it runs only for a verified QStash request.

    ``@verify_qstash`` or ``@verify_qstash(url="https://example.com/hooks/build/")``. The view
    is CSRF-exempt (QStash's signature is the proof) and finds the message on
    ``request.qstash``; every other request gets 401 (403 for a replay, 413 for a body over
    ``DJANGO_QSTASH_MAX_BODY_SIZE``) and the view never runs.
    """
    if view is not None:
        return _decorate(view, url)
    return functools.partial(_decorate, url=url)
