"""A learner logs in from headless Chromium and lands in JupyterLab."""

from __future__ import annotations

import pytest
from browsertest import launch, watch
from conftest import ROSTER

pytestmark = [pytest.mark.hub, pytest.mark.browser]


def test_learner_logs_in_and_gets_jupyterlab(hub, artifacts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = watch(browser.new_page(viewport={"width": 1280, "height": 800}))
            page.goto(hub.url + "/hub/login")
            assert hub.settings["branding"]["name"] in page.content()
            page.screenshot(path=str(artifacts / "login.png"))
            page.fill("#username_input", "theo")
            page.fill("#password_input", ROSTER["theo"][2])
            page.click("#login_submit")
            page.wait_for_selector(".jp-LabShell", timeout=120_000)
            # A first visit: the welcome in front; a new launcher has a My labs card.
            page.wait_for_selector("#ai4scale-welcome", timeout=60_000)
            page.locator(".jp-LabShell").click()
            page.keyboard.press("Control+Shift+L")
            card = page.locator(".jp-Launcher .jp-LauncherCard", has_text="My labs")
            card.first.wait_for(timeout=60_000)
            page.screenshot(path=str(artifacts / "jupyterlab.png"))
            assert "/user/theo/lab" in page.url
        finally:
            browser.close()
