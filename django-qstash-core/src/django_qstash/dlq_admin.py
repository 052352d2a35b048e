"""The dead letters page of the admin: the messages QStash gave up on, with requeue and delete.

Core has no models, so the page is added to an admin site by :func:`install` (done for the
default site when the admin loads ``django_qstash.admin``): a URL among the site's own, and an
entry in its app list (the index and the sidebar). Staff users see the page; requeue and delete
need a superuser, as they act on the whole QStash account.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from django_qstash import dlq
from django_qstash.conf import conf
from django_qstash.publisher import get_client

logger = logging.getLogger("django_qstash")

URL_NAME = "django_qstash_dead_letters"
APP_LABEL = "django_qstash"
#: Dead letters on one page (one DLQ API page, so the cursor pages through them).
PAGE_SIZE = 50


def install(site: AdminSite) -> None:
    """Add the dead letters page to ``site`` (once)."""
    if getattr(site, "_django_qstash_dead_letters", False):
        return
    site._django_qstash_dead_letters = True  # type: ignore[attr-defined]
    site_urls = site.get_urls
    site_app_list = site.get_app_list

    def get_urls() -> list[Any]:
        page = site.admin_view(lambda request: dead_letters_view(site, request))
        return [path("django_qstash/dead-letters/", page, name=URL_NAME), *site_urls()]

    def get_app_list(request: HttpRequest, app_label: str | None = None) -> list[Any]:
        app_list = site_app_list(request, app_label)
        user = getattr(request, "user", None)
        if user is not None and user.is_active and user.is_staff and app_label in (None, APP_LABEL):
            app_list.append(_app_entry(site))
            app_list.sort(key=lambda app: str(app["name"]).lower())
        return app_list

    site.get_urls = get_urls  # type: ignore[method-assign]
    site.get_app_list = get_app_list  # type: ignore[method-assign]


def _app_entry(site: AdminSite) -> dict[str, Any]:
    url = reverse(f"{site.name}:{URL_NAME}", current_app=site.name)
    return {
        "name": "django-qstash",
        "app_label": APP_LABEL,
        "app_url": url,
        "has_module_perms": True,
        "models": [
            {
                "name": "Dead letters",
                "object_name": "DeadLetter",
                "perms": {"view": True},
                "admin_url": url,
                "add_url": None,
                "view_only": True,
            }
        ],
    }


def _selection(request: HttpRequest) -> dlq.Selection:
    task = request.GET.get("task", "").strip()
    whole_account = request.GET.get("all") == "1"
    return dlq.Selection(
        url=None if whole_account else conf.webhook_url, tasks=[task] if task else []
    )


def dead_letters_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _act(request)
    letters: list[dlq.DeadLetter] = []
    next_cursor: str | None = None
    error = ""
    try:
        client = get_client()
        letters, next_cursor = dlq.list_page(
            client, _selection(request), cursor=request.GET.get("cursor") or None, count=PAGE_SIZE
        )
    except ImproperlyConfigured as exc:
        error = str(exc)
    except Exception as exc:  # QStash unreachable or refusing: say so on the page
        logger.warning("django-qstash could not list the dead letters: %s", exc)
        error = f"QStash answered with an error: {type(exc).__name__}: {exc}"
    context = {
        **site.each_context(request),
        "title": "Dead letters",
        "subtitle": None,
        "letters": letters,
        "error": error,
        "next_cursor": next_cursor,
        "whole_account": request.GET.get("all") == "1",
        "task": request.GET.get("task", ""),
        "webhook_url": _webhook_url_or_blank(),
        "can_act": request.user.is_superuser,
        "app_label": APP_LABEL,
    }
    return TemplateResponse(request, "admin/django_qstash/dead_letters.html", context)


def _webhook_url_or_blank() -> str:
    try:
        return conf.webhook_url
    except ImproperlyConfigured:
        return ""


def _act(request: HttpRequest) -> HttpResponse:
    if not request.user.is_superuser:
        raise PermissionDenied("requeue and delete need a superuser")
    back = request.get_full_path()
    ids = [i for i in request.POST.getlist("dlq_id") if i]
    action = request.POST.get("action", "")
    if action not in ("requeue", "delete"):
        messages.error(request, "Choose an action: requeue or delete.")
        return HttpResponseRedirect(back)
    if not ids:
        messages.warning(request, "Select at least one dead letter.")
        return HttpResponseRedirect(back)
    try:
        client = get_client()
        if action == "delete":
            deleted = dlq.delete(client, ids)
            messages.success(request, f"Deleted {deleted} dead letter(s).")
        else:
            letters = [dlq.from_sdk(client.dlq.get(dlq_id)) for dlq_id in ids]
            done, failed = dlq.requeue_many(client, letters)
            if done:
                new_ids = ", ".join(done.values())
                messages.success(request, f"Requeued {len(done)} dead letter(s): {new_ids}")
            for dlq_id, reason in failed.items():
                messages.error(request, f"Could not requeue {dlq_id}: {reason}")
    except Exception as exc:
        messages.error(request, f"QStash answered with an error: {type(exc).__name__}: {exc}")
    return HttpResponseRedirect(back)
