"""In headless Chromium: two team members edit one notebook together; the Course menu.

tom and tara (team t1) each open the team workspace from the hub home page in
their own browser context; tom types into a cell and tara sees it appear
(real-time collaboration). A learner's JupyterLab has a "Course" menu that
opens the course service's page in a new tab.
"""

from __future__ import annotations

import pytest
import requests
from browsertest import launch, watch
from conftest import ROSTER
from hubtest import login, spawn, user_token

pytestmark = [pytest.mark.hub, pytest.mark.browser]

WORKSPACE = "team-t1"
NOTEBOOK = "together.ipynb"
TYPED = "answer = 'typed by tom'"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch(p)
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(browser, hub, name):
    """A new browser context with ``name`` signed in, on the hub home page."""
    context = watch(browser.new_context(viewport={"width": 1280, "height": 800}))
    page = context.new_page()
    page.goto(hub.url + "/hub/login?next=%2Fhub%2Fhome")
    page.fill("#username_input", name)
    page.fill("#password_input", ROSTER[name][2])
    page.click("#login_submit")
    page.wait_for_url("**/hub/home", timeout=60_000)
    return context, page


def open_workspace(page, artifacts):
    """Follow "Open team workspace"; confirm the hub's question; wait for JupyterLab."""
    page.click(f'a.ai4scale-team-link[data-workspace="{WORKSPACE}"]')
    confirm = page.locator("#ai4scale-open-workspace")
    lab = page.locator(".jp-LabShell")
    confirm.or_(lab).first.wait_for(timeout=180_000)
    if confirm.is_visible():
        page.screenshot(path=str(artifacts / "teams-confirm.png"))
        confirm.click()
    lab.wait_for(timeout=120_000)
    assert f"/user/{WORKSPACE}/lab" in page.url


def put_notebook(hub, token):
    """Create the notebook both members will edit, through the contents API."""
    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": "first", "metadata": {}}
            | {"outputs": [], "source": ""}
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    r = requests.put(
        f"{hub.url}/user/{WORKSPACE}/api/contents/{NOTEBOOK}",
        json={"type": "notebook", "format": "json", "content": notebook},
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text


def first_cell(page):
    return page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").first


def open_notebook(page, url):
    """Open the notebook; answer JupyterLab's kernel question with "No Kernel"."""
    page.goto(url)
    no_kernel = page.locator(".jp-Dialog button", has_text="No Kernel")
    no_kernel.or_(first_cell(page)).first.wait_for(timeout=120_000)
    if no_kernel.is_visible():
        no_kernel.click()
    first_cell(page).wait_for(timeout=120_000)


def test_two_members_edit_the_same_notebook(hub, browser, artifacts):
    tom_context, tom = sign_in(browser, hub, "tom")
    tara_context, tara = sign_in(browser, hub, "tara")
    try:
        tom.screenshot(path=str(artifacts / "teams-home.png"))
        open_workspace(tom, artifacts)
        spawn(hub, WORKSPACE)  # ready (the link started it)
        s, _ = login(hub, "tom", ROSTER["tom"][2])
        put_notebook(hub, user_token(s, hub, "tom"))
        open_workspace(tara, artifacts)

        url = f"{hub.url}/user/{WORKSPACE}/lab/tree/{NOTEBOOK}"
        for page in (tom, tara):
            open_notebook(page, url)
        first_cell(tom).click()
        tom.keyboard.type(TYPED)
        # tara sees tom's typing without reloading: the document is shared live.
        tara.wait_for_function(
            """text => [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell .cm-content')]
                 .some(e => e.textContent.includes(text))""",
            arg=TYPED,
            timeout=60_000,
        )
        tom.screenshot(path=str(artifacts / "teams-tom.png"))
        tara.screenshot(path=str(artifacts / "teams-tara.png"))
        assert TYPED in first_cell(tara).text_content()
    except Exception:
        tom.screenshot(path=str(artifacts / "teams-tom-failed.png"))
        tara.screenshot(path=str(artifacts / "teams-tara-failed.png"))
        raise
    finally:
        tom_context.close()
        tara_context.close()


def test_course_menu_opens_the_course_page(hub, browser, artifacts):
    """The welcome on a first visit, the My labs panel, the Course menu: all inside JupyterLab."""
    context, page = sign_in(browser, hub, "theo")
    try:
        requested = []
        context.on("request", lambda request: requested.append(request.url))
        page.goto(hub.url + "/hub/spawn/theo?next=%2Fuser%2Ftheo%2Flab")
        page.wait_for_selector(".jp-LabShell", timeout=180_000)
        # First visit: a welcome tab, and the My labs panel open in the side bar.
        page.wait_for_selector("#ai4scale-welcome", timeout=60_000)
        assert "Welcome to the AI4Scale Sandbox" in page.locator("#ai4scale-welcome").inner_text()
        panel = page.locator("#ai4scale-my-labs")
        panel.wait_for(state="visible")
        assert panel.locator("iframe").get_attribute("src") == "/services/course/?embed=1"
        page.screenshot(path=str(artifacts / "course-welcome.png"))
        # The launcher has a My labs card.
        page.locator(".jp-LabShell").click()
        page.keyboard.press("Control+Shift+L")
        card = page.locator(".jp-LauncherCard", has_text="My labs")
        card.first.wait_for(timeout=30_000)
        # The Course menu opens the course page in a JupyterLab tab, not a new window.
        menu = page.locator(".lm-MenuBar-itemLabel", has_text="Course")
        menu.click()
        page.screenshot(path=str(artifacts / "course-menu.png"))
        page.locator(".lm-Menu-content .lm-Menu-itemLabel", has_text="Open the course page").click()
        tab = page.locator("#ai4scale-course-page iframe")
        tab.wait_for(timeout=30_000)
        assert tab.get_attribute("src") == "/services/course/"
        assert len(context.pages) == 1
        assert any(url.startswith(hub.url + "/services/course/") for url in requested), requested
        page.screenshot(path=str(artifacts / "course-page.png"))
        # A second visit: no welcome again.
        page.reload()
        page.wait_for_selector(".jp-LabShell", timeout=180_000)
        page.wait_for_selector("#ai4scale-my-labs", state="attached")
        page.wait_for_timeout(1000)
        assert page.locator("#ai4scale-welcome").count() == 0
    finally:
        context.close()
