"""Issue #12: sign-out ends that very session server-side; a password that must change is changed first."""

from __future__ import annotations

import re

import pytest
from tests.e2e.harness import Harness
from tests.web.conftest import PASSWORD, Console, add_user

from complaintdesk.core.users import service as user_service

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a brand new secret"


async def _complaint(wx: Harness) -> int:
    external = wx.state.create_complaint(wx.shop.mchid)
    await wx.deliver()
    await wx.process()
    return wx.complaints()[external].id


async def test_a_copied_cookie_is_dead_after_plain_sign_out(wx: Harness) -> None:
    add_user(wx, "agent1", "agent")
    browser, thief = Console(wx), Console(wx)
    try:
        await browser.login("agent1")
        copied = browser.http.cookies["cd_session"]
        thief.http.cookies.set("cd_session", copied)
        assert (await thief.get("/", follow_redirects=False)).status_code == 200  # the copy works...
        assert (await browser.post("/logout")).status_code == 303
        page = await thief.get("/", follow_redirects=False)  # ...until its owner signs out
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        fetch = await thief.http.get("/inbox/counts", headers={"Accept": "application/json"})
        assert fetch.status_code == 401
    finally:
        await browser.aclose()
        await thief.aclose()


async def test_sign_out_ends_only_that_session(wx: Harness) -> None:
    add_user(wx, "agent1", "agent")
    laptop, phone = Console(wx), Console(wx)
    try:
        await laptop.login("agent1")
        await phone.login("agent1")
        await laptop.post("/logout")
        assert (await laptop.get("/", follow_redirects=False)).status_code == 303
        assert (await phone.get("/", follow_redirects=False)).status_code == 200
    finally:
        await laptop.aclose()
        await phone.aclose()


async def _must_change_is_enforced(wx: Harness, console: Console, password: str) -> None:
    complaint_id = await _complaint(wx)
    answer = await console.login("agent1", password)
    assert answer.status_code == 303 and answer.headers["location"] == "/password?first=1"
    assert (await console.get("/password?first=1")).status_code == 200  # and its CSRF token
    for path in ("/", f"/complaints/{complaint_id}", "/admin/audit", "/?view=all"):
        page = await console.get(path, follow_redirects=False)
        assert page.status_code == 303, path
        assert page.headers["location"] == "/password?first=1", path
    fetch = await console.http.get("/inbox/counts", headers={"Accept": "application/json"})
    assert fetch.status_code == 403
    assert fetch.json()["error"] == "PasswordChangeRequired" and "/password" in fetch.json()["message"]
    note = await console.http.post(
        f"/complaints/{complaint_id}/reveal-phone", headers={"X-CSRF-Token": console.csrf}
    )
    assert note.status_code == 403 and note.json()["error"] == "PasswordChangeRequired"
    form = await console.post(f"/complaints/{complaint_id}/notes", {"note": "not yet"})
    assert form.status_code == 303 and form.headers["location"] == "/password?first=1"
    static = await console.http.get("/static/console/console.css")
    assert static.status_code == 200
    language = await console.post("/language", {"language": "en", "next": "/password"})
    assert language.status_code == 303
    assert (await console.get("/password?first=1")).status_code == 200
    changed = await console.post(
        "/password", {"old_password": password, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )
    assert changed.status_code == 200
    assert (await console.get(f"/complaints/{complaint_id}")).status_code == 200
    assert "not yet" not in (await console.get(f"/complaints/{complaint_id}")).text
    assert (await console.post("/logout")).status_code == 303


async def test_a_new_user_must_change_the_password_before_anything_else(
    wx: Harness, console: Console
) -> None:
    with wx.ctx.session() as s:
        user_service.create(
            session=s,
            username="agent1",
            password=PASSWORD,
            role="admin",
            now=wx.ctx.clock.now(),
            all_accounts=True,
            must_change_password=True,
        )
    await _must_change_is_enforced(wx, console, PASSWORD)


async def test_after_an_admin_reset_the_password_must_change_first(wx: Harness, console: Console) -> None:
    add_user(wx, "boss", "admin")
    user_id = add_user(wx, "agent1", "admin")
    admin = Console(wx)
    try:
        await admin.login("boss")
        await admin.get("/admin/users")
        page = await admin.post(f"/admin/users/{user_id}", {"op": "reset"})
        assert page.status_code == 200
        found = re.search(r"agent1: ([^\s<]+)", page.text)
        assert found, "the one-time password is shown once"
    finally:
        await admin.aclose()
    await _must_change_is_enforced(wx, console, found.group(1))
