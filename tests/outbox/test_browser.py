"""The outbox in the admin, in headless Chromium: pending rows with their attempts and last
error, then "Publish now" once QStash is back; screenshots at 1280 and 1920 px, light and dark
(written to $OUTBOX_SCREENSHOTS when set, for a person to look at)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.outbox.conftest import OutboxSiteFactory
from tests.outbox.test_faults import new_key, ok, record_runs
from tests.schedules.test_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    PASSWORD,
    USERNAME,
    browser,
    create_superuser,
)
from tests.support.devserver import DevServerProcess

__all__ = ["browser"]  # the fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs headless Chromium: apt-get install -y chromium chromium-driver",
    ),
]

CHANGELIST = "/admin/django_qstash_outbox/outboxmessage/"


def screenshots(driver, url: str, folder: Path, name: str) -> list[Path]:
    taken = []
    for theme in ("light", "dark"):
        driver.execute_script("localStorage.setItem('theme', arguments[0])", theme)
        for width in (1280, 1920):
            driver.set_window_size(width, 900)
            driver.get(url)
            assert driver.execute_script("return document.documentElement.dataset.theme") == theme
            path = folder / f"{name}-{theme}-{width}.png"
            assert driver.save_screenshot(str(path))
            taken.append(path)
    return taken


def test_pending_rows_and_publish_now(
    outbox_site_factory: OutboxSiteFactory, devserver_factory: object, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    devserver: DevServerProcess = devserver_factory()  # type: ignore[operator]
    site = outbox_site_factory(devserver)
    create_superuser(site.server)
    key = new_key()
    devserver.stop()
    ok(site.enqueue(key, 2))
    devserver.start()

    driver = browser
    driver.get(f"{site.server.url}/admin/login/?next={CHANGELIST}")
    driver.find_element(By.NAME, "username").send_keys(USERNAME)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert driver.current_url.endswith(CHANGELIST)

    rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 2
    for row in rows:
        assert "example.tasks.record" in row.text
        assert "pending" in row.find_element(By.CSS_SELECTOR, ".field-state").text
        assert row.find_element(By.CSS_SELECTOR, ".field-attempts").text == "1"
        assert (
            "Could not reach QStash" in row.find_element(By.CSS_SELECTOR, ".field-short_error").text
        )

    folder = Path(os.environ.get("OUTBOX_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shots = screenshots(driver, f"{site.server.url}{CHANGELIST}", folder, "outbox-pending")
    assert all(path.stat().st_size > 10_000 for path in shots)

    driver.execute_script("localStorage.setItem('theme', 'light')")
    driver.get(f"{site.server.url}{CHANGELIST}?state=pending")
    driver.find_element(By.ID, "action-toggle").click()
    Select(driver.find_element(By.NAME, "action")).select_by_value("publish_now")
    driver.find_element(By.NAME, "index").click()
    success = driver.find_element(By.CSS_SELECTOR, ".messagelist .success").text
    assert success == "Published 2 message(s)."
    site.server.wait_for_runs(2, task="record", key=key, timeout=60)
    assert record_runs(site, key) == [0, 1]
    assert site.outbox_rows() == []
    screenshots(driver, f"{site.server.url}{CHANGELIST}", folder, "outbox-empty")
