"""The original django-qstash 0.8.1's webhook, measured the way ``results_webhook`` measures
this implementation: run by ``results_webhook --original PYTHON`` in that Python (which has the
original package installed), one round per line read on stdin, one JSON sample per line out.

Usage: PYTHON benchmarks/_original_results.py CALLS [POSTGRES_DATABASE_JSON]
"""
# ruff: noqa: E402  (Django is configured before its modules are imported)

from __future__ import annotations

import atexit
import base64
import hashlib
import io
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.commits import CommitCounter  # standard library only

calls = int(sys.argv[1])
#: The PostgreSQL database of the original (its own, already created), as a DATABASES entry.
postgres = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
tmp = Path(tempfile.mkdtemp(prefix="bench-original-"))
atexit.register(shutil.rmtree, tmp, True)
(tmp / "benchapp").mkdir()
(tmp / "benchapp" / "__init__.py").write_text("")
(tmp / "benchapp" / "tasks.py").write_text(
    "from django_qstash import stashed_task\n\n@stashed_task\ndef noop(value):\n    return value\n"
)
(tmp / "benchapp" / "urls.py").write_text(
    "import json\n"
    "from django.http import JsonResponse\n"
    "from django.urls import include, path\n"
    "from django.views.decorators.csrf import csrf_exempt\n\n"
    "@csrf_exempt\n"
    "def bare(request):\n"
    "    data = json.loads(request.body)\n"
    "    return JsonResponse({'status': 'success', 'task': data.get('task')})\n\n"
    "urlpatterns = [path('bare/', bare), path('qstash/webhook/', include('django_qstash.urls'))]\n"
)
(tmp / "benchapp" / "routers.py").write_text(
    "class AliasRouter:\n"
    "    alias = 'default'\n"
    "    def db_for_read(self, model, **hints):\n        return self.alias\n"
    "    def db_for_write(self, model, **hints):\n        return self.alias\n"
)
sys.path.insert(0, str(tmp))
from django.conf import settings

settings.configure(
    SECRET_KEY="benchmark",
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["django_qstash", "django_qstash.results", "benchapp"],
    ROOT_URLCONF="benchapp.urls",
    MIDDLEWARE=[],
    USE_TZ=True,
    DATABASES={
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "full.sqlite3")},
        "nosync": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "off.sqlite3")},
        **({"postgres": postgres} if postgres else {}),
    },
    DATABASE_ROUTERS=["benchapp.routers.AliasRouter"],
    QSTASH_TOKEN="benchmark-token",
    QSTASH_CURRENT_SIGNING_KEY="sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
    QSTASH_NEXT_SIGNING_KEY="sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
    DJANGO_QSTASH_DOMAIN="http://127.0.0.1:8000",
    DJANGO_QSTASH_FORCE_HTTPS=False,
    LOGGING_CONFIG=None,
)
import django

django.setup()
import jwt
from benchapp.routers import AliasRouter
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db.backends.signals import connection_created


def off(sender, connection, **kwargs):
    if connection.alias == "nosync":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")


connection_created.connect(off)
aliases = ["default", "nosync"] + (["postgres"] if postgres else [])
for alias in aliases:
    call_command("migrate", database=alias, verbosity=0)

handler = WSGIHandler()
body = json.dumps(
    {"function": "noop", "module": "benchapp.tasks", "args": [1], "kwargs": {}, "task_name": "noop"}
).encode()
url = "http://127.0.0.1:8000/qstash/webhook/"
now = int(time.time())
token = jwt.encode(
    {
        "iss": "Upstash",
        "sub": url,
        "exp": now + 3600,
        "nbf": now,
        "iat": now,
        "jti": "jwt_1",
        "body": base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode(),
    },
    "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
    algorithm="HS256",
)


def environ(path, message_id=None):
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.input": io.BytesIO(body),
    }
    if message_id:
        env["HTTP_UPSTASH_MESSAGE_ID"] = message_id
        env["HTTP_UPSTASH_SIGNATURE"] = token
        env["HTTP_UPSTASH_RETRIED"] = "0"
    return env


def start_response(status, headers):
    assert status.startswith("200"), status


def bare():
    return b"".join(handler(environ("/bare/"), start_response))


def webhook(alias):
    def call():
        AliasRouter.alias = alias
        return b"".join(
            handler(environ("/qstash/webhook/", f"msg_{uuid.uuid4().hex}"), start_response)
        )

    return call


candidates = {
    "bare JSON view": bare,
    "original webhook, SQLite synchronous=FULL (default)": webhook("default"),
    "original webhook, SQLite synchronous=OFF": webhook("nosync"),
}
if postgres:
    candidates["original webhook, PostgreSQL (CONN_MAX_AGE)"] = webhook("postgres")
for name, call in candidates.items():
    assert b'"success"' in call(), name
for func in candidates.values():
    for _ in range(200):
        func()
# What one first delivery costs the original, on each database.
from django.db import connections

costs = {}
for alias in aliases:
    with CommitCounter(connections[alias]) as counter:
        assert b'"success"' in webhook(alias)()
    costs[connections[alias].vendor + ("" if alias != "nosync" else " sync=OFF")] = (
        counter.summary()
    )
print("ready " + json.dumps(costs), flush=True)
# One round per line read, so the caller interleaves these rounds with its own.
for line in sys.stdin:
    sample = {}
    for name, func in candidates.items():
        start = time.perf_counter()
        for _ in range(calls):
            func()
        sample[name] = (time.perf_counter() - start) / calls
    print(json.dumps(sample), flush=True)
