"""The operations pages in headless Chromium, with screenshots: the dashboard, the dead letters
page, the results list and a result's detail, at 1280x800 and 1920x1080, light and dark.

The sample project runs under gunicorn on the dev server; its rows come from real deliveries
(successes, a retry then success, failures that land in the DLQ). Screenshots go to
``tests/.artifacts/screenshots/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.schedules.test_browser import (  # noqa: F401 - the browser fixture
    CHROMEDRIVER,
    CHROMIUM,
    PASSWORD,
    USERNAME,
    browser,
    create_superuser,
)
from tests.support.devserver import wait_until
from tests.support.liveserver import DjangoServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs headless Chromium: apt-get install -y chromium chromium-driver",
    ),
]

SHOTS = Path(__file__).resolve().parents[1] / ".artifacts" / "screenshots"
SIZES = ((1280, 800), (1920, 1080))
SCHEMES = ("light", "dark")
RESULTS = "/admin/django_qstash_results/taskresult/"
DASHBOARD = "/admin/django_qstash_results/taskdashboard/"
DEAD_LETTERS = "/admin/django_qstash/dead-letters/"


@pytest.fixture
def site(django_server_factory: Any, publish_via: Any) -> Iterator[DjangoServer]:
    """A fresh sample project with real outcomes in its results and a dead letter in the DLQ."""
    from example.tasks import always_fails, fail_until, math_add_task, record

    # runserver with DEBUG on serves the admin's static files (gunicorn would need WhiteNoise).
    server: DjangoServer = django_server_factory(server="runserver", env={"DJANGO_DEBUG": "True"})
    create_superuser(server)
    publish_via(server)
    client = server.devserver.client()
    for letter in client.dlq.list(filter={"url": server.webhook_url}).messages:
        client.dlq.delete(letter.dlq_id)
    tag = uuid.uuid4().hex[:6]
    for i in range(6):
        record.delay(f"{tag}-{i}", value={"n": i})
    for i in range(3):
        math_add_task.delay(i, 40)
    fail_until.delay(f"{tag}-retry", 3)
    failing = [always_fails.delay(f"{tag}-bad-{i}").id for i in range(2)]
    server.wait_for_runs(6, task="record")
    server.wait_for_runs(3, task="fail_until", key=f"{tag}-retry")
    wait_until(
        lambda: len(client.dlq.list(filter={"url": server.webhook_url}).messages) >= 2 or None,
        timeout=30,
        message="two dead letters",
    )
    wait_until(
        lambda: (
            server.query(
                "SELECT COUNT(*) FROM django_qstash_results_taskresult WHERE status = 'SUCCESS'"
            )[0][0]
            >= 10
            or None
        ),
        timeout=30,
        message="the results",
    )
    # What is waiting now: a countdown message (QStash knows when it is due) and a retrying row.
    pending = record.apply_async(args=[f"{tag}-later"], countdown=3600).id
    insert(
        server,
        "INSERT INTO django_qstash_results_taskresult (task_id, request_id, task_name, status, "
        "args, kwargs, result_is_repr, exception_type, exception_message, traceback, attempts, "
        "republished, schedule_id, date_created) VALUES (?, '', 'example.tasks.record', "
        "'PENDING', '[]', '{}', 0, '', '', '', 0, 0, '', datetime('now'))",
        (pending,),
    )
    insert(
        server,
        "INSERT INTO django_qstash_results_taskresult (task_id, request_id, task_name, status, "
        "args, kwargs, result_is_repr, exception_type, exception_message, traceback, attempts, "
        "republished, schedule_id, date_created, attempt_errors) VALUES (?, '', "
        "'example.tasks.fail_until', 'RETRY', '[]', '{}', 0, 'builtins.RuntimeError', "
        "'not yet', '', 2, 0, '', datetime('now'), '[]')",
        (f"msg_retrying_{tag}",),
    )
    server.failing = failing  # type: ignore[attr-defined]
    yield server
    client.message.cancel(pending)
    # The dev server is shared by the session: leave no dead letters behind.
    for letter in client.dlq.list(filter={"url": server.webhook_url}).messages:
        client.dlq.delete(letter.dlq_id)


def insert(server: DjangoServer, sql: str, params: tuple[Any, ...]) -> None:
    import sqlite3

    connection = sqlite3.connect(server.database, timeout=10)
    try:
        with connection:
            connection.execute(sql, params)
    finally:
        connection.close()


def log_in(driver: Any, site: DjangoServer) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site.url}/admin/login/?next=/admin/")
    driver.find_element(By.NAME, "username").send_keys(USERNAME)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert driver.current_url.endswith("/admin/")


def view(driver: Any, width: int, height: int, scheme: str) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )


def shoot(driver: Any, name: str, width: int, height: int, scheme: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}-{width}x{height}-{scheme}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot at {path}"
    return path


def visible_headers(driver: Any, table: str) -> dict[str, bool]:
    """Each column header's text -> whether it is on screen (inside the viewport's width)."""
    return dict(
        driver.execute_script(
            "const out = [];"
            f"for (const th of document.querySelectorAll({table!r} + ' thead th')) {{"
            "  const r = th.getBoundingClientRect();"
            # Inside the viewport and not clipped by a scrolling wrapper (the admin's .results).
            "  let right = window.innerWidth;"
            "  for (let el = th.parentElement; el; el = el.parentElement) {"
            "    const style = getComputedStyle(el);"
            "    if (style.overflowX !== 'visible') {"
            "      right = Math.min(right, el.getBoundingClientRect().right); }"
            "  }"
            "  out.push([th.innerText.trim().toLowerCase(),"
            "    r.width > 0 && r.left >= 0 && r.right <= right + 1]);"
            "}"
            "return out;"
        )
    )


def background_is_dark(driver: Any) -> bool:
    # The admin paints its pages with var(--body-bg): resolve it through a probe element.
    colour = driver.execute_script(
        "const probe = document.createElement('div');"
        "probe.style.background = 'var(--body-bg)';"
        "document.body.appendChild(probe);"
        "const rgb = getComputedStyle(probe).backgroundColor.match(/\\d+/g).map(Number);"
        "probe.remove();"
        "return rgb;"
    )
    return sum(colour[:3]) < 3 * 128


def test_screenshots_of_the_operations_pages(site: DjangoServer, browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    driver = browser
    log_in(driver, site)
    # The index links the dashboard and the dead letters page.
    index = driver.page_source
    assert DASHBOARD in index
    assert DEAD_LETTERS in index
    ((detail_pk,),) = site.query(
        "SELECT id FROM django_qstash_results_taskresult WHERE task_name = ? AND status = ?",
        ("example.tasks.fail_until", "SUCCESS"),
    )
    shots: list[Path] = []
    for width, height in SIZES:
        for scheme in SCHEMES:
            view(driver, width, height, scheme)

            driver.get(f"{site.url}{DASHBOARD}?window=1h")
            shots.append(shoot(driver, "dashboard", width, height, scheme))
            assert background_is_dark(driver) is (scheme == "dark")
            assert driver.find_element(By.CSS_SELECTOR, "svg.dqr-chart").is_displayed()
            assert len(driver.find_elements(By.CSS_SELECTOR, ".dqr-task-row")) >= 4
            assert len(driver.find_elements(By.CSS_SELECTOR, ".dqr-failure-row")) == 2
            assert driver.find_element(By.ID, "dqr-pending").text == "1"
            assert driver.find_element(By.ID, "dqr-retrying").text == "1"
            headers = visible_headers(driver, "#dqr-tasks table")
            for column in ("task", "runs", "failed", "retries", "failure rate", "p50", "p95"):
                assert headers.get(column), (column, headers)

            driver.get(f"{site.url}{DEAD_LETTERS}")
            shots.append(shoot(driver, "dead-letters", width, height, scheme))
            rows = driver.find_elements(By.CSS_SELECTOR, "tr.dlq-row")
            assert {r.get_attribute("data-dlq-id") for r in rows}, "no dead letters shown"
            assert "example.tasks.always_fails" in driver.page_source
            headers = visible_headers(driver, "#result_list")
            for column in ("failed at", "status", "task", "arguments", "error"):
                assert headers.get(column), (column, headers)

            driver.get(f"{site.url}{RESULTS}")
            shots.append(shoot(driver, "results-list", width, height, scheme))
            headers = visible_headers(driver, "#result_list")
            for column in ("task", "status", "attempts", "created", "started", "done", "duration"):
                assert headers.get(column), (column, headers)
            badge = driver.find_element(By.CSS_SELECTOR, ".dqr-status-success")
            assert badge.value_of_css_property("color") == "rgba(255, 255, 255, 1)"
            assert "due " in driver.find_element(By.CSS_SELECTOR, ".dqr-due").text

            driver.get(f"{site.url}{RESULTS}{detail_pk}/change/")
            shots.append(shoot(driver, "result-detail", width, height, scheme))
            history = driver.find_element(By.CSS_SELECTOR, "table.dqr-attempts")
            assert "attempt 1 of" in history.text
            assert "attempt 2 of" in history.text
            assert driver.find_element(By.ID, "dqr-requeue").is_displayed()
    assert len(shots) == 16
    assert all(p.stat().st_size > 10_000 for p in shots)

    # The dead letters page requeues one: the task runs again.
    view(driver, 1280, 800, "light")
    driver.get(f"{site.url}{DEAD_LETTERS}")
    first = driver.find_element(By.CSS_SELECTOR, "tr.dlq-row input.action-select")
    first.click()
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "dlq-action")).select_by_value("requeue")
    driver.find_element(By.ID, "dlq-go").click()
    assert "Requeued 1 dead letter(s)" in driver.find_element(By.CSS_SELECTOR, ".messagelist").text
    wait_until(
        lambda: len(site.task_runs(task="always_fails")) >= 3 or None,
        timeout=30,
        message="the requeued task's run",
    )


def test_the_schedules_task_chooser_searches(site: DjangoServer, browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver = browser
    log_in(driver, site)
    view(driver, 1280, 800, "light")
    driver.get(f"{site.url}/admin/django_qstash_schedules/taskschedule/add/")
    search = driver.find_element(By.CSS_SELECTOR, "input.djq-task-search")
    search.send_keys("always fails")
    shown = driver.execute_script(
        "return [...document.querySelector('select[name=task_name]').options]"
        ".filter(o => !o.hidden && o.value).map(o => o.value);"
    )
    assert shown == ["example.tasks.always_fails"], shown
    assert driver.find_element(By.CSS_SELECTOR, ".djq-task-search-count").text == "1 match"
    search.send_keys(Keys.ENTER)
    select = Select(driver.find_element(By.NAME, "task_name"))
    assert select.first_selected_option.get_attribute("value") == "example.tasks.always_fails"
    shoot(driver, "schedule-task-search", 1280, 800, "light")
