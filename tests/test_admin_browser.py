"""The admin console in Debian's chromium, driven by Playwright: sign in, look up an online
user, kick them, and check their session ended."""

import os
from collections.abc import AsyncIterator

import pytest

from tests.stack import Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 15_000  # milliseconds Playwright waits for an element or text

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: run `make setup`, which installs chromium with apt-get",
)


@pytest.fixture
async def page(stack: Stack) -> AsyncIterator:
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.requested = []  # type: ignore[attr-defined]
            page.on("request", lambda request: page.requested.append(request.url))
            yield page
        finally:
            await browser.close()


async def sign_in(page, stack: Stack, key: str) -> None:
    await page.goto(f"{stack.api_url}/admin/")
    await page.fill("#api-key", key)
    await page.click("#signin-form button[type=submit]")


async def test_console_rejects_wrong_key(stack: Stack, page) -> None:
    await sign_in(page, stack, "wrong-key-0123456789abcdef")
    await playwright_api.expect(page.locator("#status")).to_contain_text("API key")
    assert await page.locator("#page-signin").is_visible()
    assert not await page.locator("#nav").is_visible()


async def test_console_kicks_online_user(stack: Stack, page, uid, connect) -> None:
    expect = playwright_api.expect
    user = uid("viewer")
    client = await connect(user, platform="android", device="Pixel 8", sdk="mimo-android/2.0")

    await sign_in(page, stack, stack.api_key)
    await expect(page.locator("#page-overview")).to_be_visible()
    await expect(page.locator("#ov-gateways")).to_contain_text("gw1")

    await page.select_option("#lang", "zh-CN")
    await expect(page.locator("#nav a[href='#overview']")).to_have_text("概览")
    await page.select_option("#lang", "en")
    await expect(page.locator("#nav a[href='#overview']")).to_have_text("Overview")

    await page.click("#nav a[href='#user']")
    await page.fill("#user-id", user)
    await page.click("#user-form button[type=submit]")
    await expect(page.locator("#user-state")).to_contain_text("online")
    sessions = page.locator("#user-sessions tr")
    await expect(sessions).to_have_count(1)
    await expect(sessions.first).to_contain_text("Pixel 8")
    await expect(sessions.first).to_contain_text("android")

    await page.click("#user-kick")
    await expect(page.locator("#status")).to_contain_text(f"Ended 1 session(s) of {user}")

    kicked = await client.next("kicked")
    assert kicked["code"] == 1007
    close_code, _ = await client.wait_closed()
    assert close_code == 4002
    await expect(page.locator("#user-state")).to_contain_text("offline")
    await expect(sessions).to_have_count(0)

    outside = [url for url in page.requested if not url.startswith(stack.api_url)]
    assert outside == [], outside


async def test_console_pages_render(stack: Stack, page, uid) -> None:
    import httpx

    expect = playwright_api.expect
    room = uid("room")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    async with httpx.AsyncClient(base_url=stack.api_url, headers={
            "Authorization": f"Bearer {stack.api_key}"}) as api:
        owner = uid("owner")
        assert (await api.put(f"/v1/users/{owner}")).status_code in (200, 201)
        created = await api.post("/v1/rooms", json={"room": room, "name": "Console room",
                                                    "owner": owner})
        assert created.status_code == 201

    await sign_in(page, stack, stack.api_key)
    await expect(page.locator("#page-overview")).to_be_visible()

    await page.click("#nav a[href='#daily']")
    await expect(page.locator("#daily-rows tr")).to_have_count(14)
    await expect(page.locator("#daily-charts svg")).to_have_count(8)

    await page.click("#nav a[href='#room']")
    await page.fill("#room-id", room)
    await page.click("#room-form button[type=submit]")
    await expect(page.locator("#room-fact-name")).to_have_text("Console room")
    # The member count and the member table are separate elements.
    await expect(page.locator("#room-fact-members")).to_have_text("1")
    await expect(page.locator("#room-members tr")).to_have_count(1)
    await expect(page.locator("#room-members tr td").first).to_have_text(owner)
    await page.click("#room-mute-all")
    await expect(page.locator("#room-fact-muted_all")).to_have_text("yes")

    await page.click("#nav a[href='#audit']")
    await page.fill("#audit-room", room)
    await page.click("#audit-form button[type=submit]")
    await expect(page.locator("#audit-rows tr").first).to_contain_text(room)
    assert errors == []
