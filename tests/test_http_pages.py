"""The API's HTML pages load nothing from outside the API."""

import re

import httpx

EXTERNAL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


async def test_schema_page_is_self_contained(stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        page = await http.get("/schema")
        document = await http.get("/schema/openapi.json")
    assert page.status_code == 200
    assert "/v1/rooms/{room}/messages" in page.text
    assert EXTERNAL.search(page.text) is None
    assert document.status_code == 200
    assert "/v1/rooms/{room}/messages" in document.json()["paths"]


async def test_admin_without_slash_loads_assets(stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        page = await http.get("/admin")
        assert page.status_code == 200
        assets = re.findall(r"""(?:src|href)="(/admin/[^"]+)\"""", page.text)
        assert sorted(assets) == ["/admin/app.js", "/admin/chart.js", "/admin/i18n.js",
                                  "/admin/style.css"]
        for asset in assets:
            assert (await http.get(asset)).status_code == 200
    assert EXTERNAL.search(page.text) is None


async def test_oversized_body_gets_4004(stack) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key}", "Content-Type": "application/json"}
    body = b'{"body": "' + b"x" * (12 * 1024 * 1024) + b'"}'
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers) as http:
        response = await http.post("/v1/rooms/lobby/messages", content=body)
    assert response.status_code == 400
    assert response.json()["code"] == 4004
