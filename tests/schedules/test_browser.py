"""The admin in headless Chromium, against the sample project as a live server and the dev server.

Needs Debian's ``chromium`` and ``chromium-driver`` packages (``/usr/bin/chromium``,
``/usr/bin/chromedriver``); skipped, saying so, when they are missing.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.devserver import wait_until
from tests.support.liveserver import DjangoServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs headless Chromium: apt-get install -y chromium chromium-driver",
    ),
]

USERNAME, PASSWORD = "admin", "browser-test-password"


def create_superuser(server: DjangoServer) -> None:
    """A superuser row in the live server's database (a cheap PBKDF2 hash: test only)."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.utils import timezone

    password = PBKDF2PasswordHasher().encode(PASSWORD, "browsertestsalt", iterations=1000)
    connection = sqlite3.connect(server.database, timeout=10)
    try:
        with connection:
            connection.execute(
                "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
                " email, is_staff, is_active, date_joined) VALUES (?, 1, ?, '', '', '', 1, 1, ?)",
                (password, USERNAME, timezone.now().isoformat()),
            )
    finally:
        connection.close()


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="djq-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def site(django_server: DjangoServer) -> Iterator[DjangoServer]:
    if not django_server.query("SELECT 1 FROM auth_user WHERE username = ?", (USERNAME,)):
        create_superuser(django_server)
    before = {s.schedule_id for s in django_server.devserver.client().schedule.list()}
    yield django_server
    sdk = django_server.devserver.client()
    for schedule in sdk.schedule.list():
        if schedule.schedule_id not in before:
            sdk.schedule.delete(schedule.schedule_id)


def test_create_bad_cron_pause_in_the_admin(site: DjangoServer, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    add_url = "/admin/django_qstash_schedules/taskschedule/add/"
    driver.get(f"{site.url}/admin/login/?next={add_url}")
    driver.find_element(By.NAME, "username").send_keys(USERNAME)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert driver.current_url.endswith(add_url)

    # The task is a dropdown of the registered tasks.
    name = f"browser {uuid.uuid4().hex[:6]}"
    key = name.replace(" ", "-")
    task = Select(driver.find_element(By.NAME, "task_name"))
    assert "example.tasks.record" in [o.get_attribute("value") for o in task.options]
    driver.find_element(By.NAME, "name").send_keys(name)
    task.select_by_value("example.tasks.record")
    driver.find_element(By.NAME, "cron").send_keys("61 * * * *")
    args = driver.find_element(By.NAME, "args")
    args.clear()
    args.send_keys(f'["{key}"]')
    driver.find_element(By.NAME, "_save").click()

    # A bad cron: the form comes back with the reason next to the field.
    error = driver.find_element(By.CSS_SELECTOR, ".field-cron .errorlist")
    assert "'61' is not a valid minute field" in error.text
    assert not site.query("SELECT 1 FROM django_qstash_schedules_taskschedule")

    cron = driver.find_element(By.NAME, "cron")
    cron.clear()
    cron.send_keys("* * * * *")
    driver.find_element(By.NAME, "_save").click()
    messages = driver.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert "was added successfully" in messages
    assert "is up to date (active)" in messages
    ((schedule_id,),) = site.query(
        "SELECT schedule_id FROM django_qstash_schedules_taskschedule WHERE name = ?", (name,)
    )
    sdk = site.devserver.client()
    on_server = sdk.schedule.get(schedule_id)
    assert on_server.destination == site.webhook_url
    assert on_server.paused is False
    site.wait_for_runs(1, task="record", key=key)  # it fires, and the task runs

    # The change page describes the cron, with no QStash call needed.
    driver.find_element(By.LINK_TEXT, name).click()
    assert (
        "Every minute (UTC)" in driver.find_element(By.CSS_SELECTOR, ".field-cron_description").text
    )
    assert len(driver.find_elements(By.CSS_SELECTOR, ".djq-next-runs li")) == 5

    # Pause it with the changelist action; the dev server sees it paused.
    driver.get(f"{site.url}/admin/django_qstash_schedules/taskschedule/")
    row = driver.find_element(By.XPATH, f"//tr[.//a[text()='{name}']]")
    row.find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(driver.find_element(By.NAME, "action")).select_by_value("pause_schedules")
    driver.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    assert "Paused 1 schedule." in driver.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert wait_until(lambda: sdk.schedule.get(schedule_id).paused, timeout=5)
    assert site.query(
        "SELECT is_active FROM django_qstash_schedules_taskschedule WHERE name = ?", (name,)
    ) == [(0,)]
