"""The admin form of TaskSchedule: the task as a searchable dropdown of registered tasks, a
checked cron."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_qstash import hooks
from django_qstash.schedules.models import TaskSchedule

TIMEZONE_LIST_ID = "djq-timezones"


@functools.lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    try:
        return tuple(sorted(zoneinfo.available_timezones()))
    except Exception:  # pragma: no cover - no tz database at all: a plain text box
        return ()


def task_choices(current: str | None = None) -> list[tuple[str, str]]:
    """``[("", "---------"), (name, name), ...]`` from the task registry, sorted.

    A current value that is no longer registered stays selectable (marked), so the form opens;
    validation then says it is not registered."""
    names = sorted(hooks.registered_tasks())
    choices = [("", "---------")] + [(name, name) for name in names]
    if current and current not in names:
        choices.append((current, f"{current} (not registered)"))
    return choices


class TimeZoneInput(forms.TextInput):
    """A text box offering the IANA zone names as suggestions (an HTML ``<datalist>``)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            {"list": TIMEZONE_LIST_ID, "placeholder": "UTC", "autocomplete": "off", **(attrs or {})}
        )

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        box = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">', ((zone,) for zone in _zone_names()))
        return format_html('{}<datalist id="{}">{}</datalist>', box, TIMEZONE_LIST_ID, options)


class SearchableSelect(forms.Select):
    """A dropdown with a search box above it that filters its options as you type."""

    class Media:
        js = ("django_qstash_schedules/task_search.js",)

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        select = super().render(name, value, attrs, renderer)
        target = (attrs or {}).get("id") or self.attrs.get("id") or f"id_{name}"
        return format_html(
            '<div class="djq-task-chooser"><input type="search" class="djq-task-search vTextField"'
            ' data-for="{}" placeholder="{}" aria-label="{}" autocomplete="off">'
            ' <span class="djq-task-search-count help"></span><br>{}</div>',
            target,
            _("Search tasks…"),
            _("Search tasks"),
            select,
        )


class TaskScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    task_name = forms.ChoiceField(
        label=_("Task"),
        widget=SearchableSelect,
        help_text=_("A task registered in this project (python manage.py available_tasks)."),
    )

    class Meta:
        model = TaskSchedule
        fields = (
            "name",
            "task_name",
            "is_active",
            "description",
            "cron",
            "timezone",
            "args",
            "kwargs",
            "retries",
            "timeout",
            "queue",
        )
        widgets = {
            "cron": forms.TextInput(
                attrs={"placeholder": "0 0 * * *", "class": "vTextField", "spellcheck": "false"}
            ),
            "timezone": TimeZoneInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["task_name"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = task_choices(self.initial.get("task_name") or self.instance.task_name)
