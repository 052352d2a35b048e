"""Celery's app object, for projects that define tasks with ``app = Celery("proj")``.

django-qstash needs no app: tasks register when their module is imported, and settings come
from Django's (``DJANGO_QSTASH_*``). :class:`Celery` is a thin front over the same machinery so
that a ``celery.py`` + ``@app.task`` codebase ports by changing its imports. What has no meaning
over QStash (a broker URL, a result backend, worker settings) is accepted and kept in
:attr:`Celery.conf`, never an error; ``docs/celery.md`` lists what each part does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django_qstash.decorators import shared_task
from django_qstash.discovery import utils as discovery
from django_qstash.registry import registry
from django_qstash.result import AsyncResult
from django_qstash.signatures import Signature
from django_qstash.task import Task

__all__ = ["Celery", "Settings", "current_app"]

#: ``app.task`` options Celery reads itself (they choose how the task is created).
_APP_TASK_OPTIONS = frozenset({"shared", "lazy", "filter"})


class Settings(dict[str, Any]):
    """``app.conf``: Celery's settings by their lower-case names, readable as attributes.

    Filled from :meth:`Celery.config_from_object` when first read (so defining the app never
    reads Django's settings) and by ``app.conf.update(...)``. django-qstash itself reads its
    ``DJANGO_QSTASH_*`` settings; these are kept for code that reads them back.
    """

    def __init__(self, load: Callable[[], Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        self._load = load
        self._lock = threading.Lock()

    def _loaded(self) -> None:
        if self._load is not None:
            with self._lock:
                load, self._load = self._load, None
                if load is not None:
                    for key, value in load().items():
                        self.setdefault(key, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self._loaded()
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no Celery setting {name!r} was configured") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, value)
        else:
            self[name] = value

    def __getitem__(self, key: str) -> Any:
        self._loaded()
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._loaded()
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._loaded()
        return super().get(key, default)

    def __iter__(self) -> Any:
        self._loaded()
        return super().__iter__()

    def __len__(self) -> int:
        self._loaded()
        return super().__len__()


def _settings_of(source: Any, namespace: str | None) -> dict[str, Any]:
    """The upper-case names of ``source`` (under ``NAMESPACE_``), lower-cased without it."""
    if isinstance(source, str):
        from django.utils.module_loading import import_string

        module_path, _, attribute = source.partition(":")
        source = import_string(f"{module_path}.{attribute}") if attribute else None
        if source is None:
            from importlib import import_module

            source = import_module(module_path)
    prefix = f"{namespace}_" if namespace else ""
    found: dict[str, Any] = {}
    for name in dir(source):
        if name.isupper() and name.startswith(prefix):
            found[name[len(prefix) :].lower()] = getattr(source, name)
    return found


class Celery:
    """A Celery app over django-qstash: ``app = Celery("proj")``, then ``@app.task``.

    ``broker``, ``backend`` and other constructor keywords are accepted and kept in
    :attr:`conf`; ``task_cls`` is the default ``base`` of the app's tasks.
    """

    def __init__(
        self,
        main: str | None = None,
        *,
        task_cls: type[Task[Any, Any]] | str | None = None,
        set_as_current: bool = True,
        **settings: Any,
    ) -> None:
        self.main = main
        if isinstance(task_cls, str):
            from django.utils.module_loading import import_string

            task_cls = import_string(task_cls.replace(":", "."))
        #: The class ``@app.task`` builds (``class MyTask(app.Task)`` for a base class).
        self.Task: type[Task[Any, Any]] = task_cls or Task  # type: ignore[assignment]
        self.conf = Settings()
        self.conf.update(settings)
        if set_as_current:
            _current.app = self

    def __repr__(self) -> str:
        return f"<Celery {self.main or '__main__'} (django-qstash)>"

    # ------------------------------------------------------------------------ configuration

    def config_from_object(
        self, obj: Any, namespace: str | None = None, *, silent: bool = False, force: bool = False
    ) -> None:
        """Read settings from ``obj`` (a module, an object, or ``"django.conf:settings"``), on
        first use of :attr:`conf`; with ``namespace="CELERY"`` only ``CELERY_*`` names."""

        def load() -> Mapping[str, Any]:
            try:
                return _settings_of(obj, namespace)
            except ImportError:
                if silent:
                    return {}
                raise

        loaded = dict(self.conf) if self.conf._load is None else {}
        self.conf = Settings(load)
        self.conf.update(loaded)
        if force:
            self.conf._loaded()

    def autodiscover_tasks(
        self,
        packages: Iterable[str] | Callable[[], Iterable[str]] | None = None,
        related_name: str = "tasks",
        force: bool = False,
    ) -> None:
        """Import ``<package>.tasks`` for these packages with the installed apps' ones.

        Without ``packages`` this does nothing more than django-qstash already does: every
        installed app's ``tasks`` module is imported when Django starts.
        """
        if packages is None:
            return
        names = [f"{package}.{related_name}" for package in _packages(packages)]
        discovery.extra_task_modules.extend(
            name for name in names if name not in discovery.extra_task_modules
        )
        from django.apps import apps

        if force or apps.ready:
            for name in names:
                discovery.import_task_module(name)

    # ------------------------------------------------------------------------ tasks

    def task(self, *args: Any, **options: Any) -> Any:
        """``@app.task`` / ``@app.task(bind=True, ...)``: the same as ``@shared_task``."""
        for key in _APP_TASK_OPTIONS & set(options):
            options.pop(key)  # Celery's own switches: every task here is shared and lazy
        if self.Task is not Task:
            options.setdefault("base", self.Task)
        if len(args) == 1 and callable(args[0]) and not options:
            return shared_task(args[0])
        if args:
            raise TypeError("app.task() takes the function, or options as keywords")
        return shared_task(**options)

    @property
    def tasks(self) -> dict[str, Task[..., Any]]:
        """The registered tasks by name (Celery's task registry)."""
        discovery.autodiscover()
        return dict(registry.items())

    def send_task(
        self,
        name: str,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult:
        """Publish the registered task ``name`` with ``apply_async``'s options.

        Unlike Celery the task must be registered here: QStash delivers to this project's
        webhook, which runs only the tasks it knows. An unknown name raises
        :class:`~django_qstash.exceptions.TaskNotRegistered` before anything is published.
        """
        discovery.autodiscover()
        task = registry.get(name)
        result: AsyncResult = task.apply_async(args, kwargs, **options)
        return result

    def signature(self, name: str, args: Sequence[Any] | None = None, **options: Any) -> Any:
        """``app.signature("proj.tasks.add", (2, 2))``: a signature of a registered task."""
        discovery.autodiscover()
        kwargs = options.pop("kwargs", None)
        return Signature(registry.get(name), args, kwargs, options)

    def AsyncResult(self, task_id: str) -> AsyncResult:
        return AsyncResult(task_id)

    # ------------------------------------------------------------------------ no-ops

    def set_default(self) -> None:
        """Make this app :data:`current_app`."""
        _current.app = self

    def finalize(self, auto: bool = False) -> None:
        """Nothing to finalize: tasks register as they are defined."""

    def close(self) -> None:
        """Nothing to close: publishing uses django-qstash's shared QStash client."""


def _packages(packages: Iterable[str] | Callable[[], Iterable[str]]) -> list[str]:
    return list(packages() if callable(packages) else packages)


class _Current:
    app: Celery | None = None


_current = _Current()


class _CurrentApp:
    """``current_app``: the last :class:`Celery` app created (one is made when there is none)."""

    def _get_current_object(self) -> Celery:
        app = _current.app
        if app is None:
            app = Celery("default")
        return app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get_current_object(), name)

    def __repr__(self) -> str:
        return repr(self._get_current_object())


current_app: Any = _CurrentApp()
