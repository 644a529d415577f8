"""/docs and /redoc reference no foreign host: Swagger UI and ReDoc come from our own server."""

from __future__ import annotations

import re

import pytest
from tests.e2e.harness import Harness

pytestmark = pytest.mark.anyio

REFERENCE = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")
ANY_URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+""", re.IGNORECASE)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_documentation_pages_load_everything_from_our_own_server(wx: Harness, page: str) -> None:
    answer = await wx.desk.get(page)
    assert answer.status_code == 200
    html = answer.text
    assert ANY_URL.findall(html) == []  # no CDN, no Google fonts, no favicon from elsewhere
    references = REFERENCE.findall(html)
    assert "/openapi.json" in references
    assets = [r for r in references if r.startswith("/docs/assets/")]
    assert len(assets) >= (3 if page == "/docs" else 2)
    for asset in assets:
        served = await wx.desk.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 100, asset


async def test_swagger_ui_asks_no_validator_on_the_internet(wx: Harness) -> None:
    html = (await wx.desk.get("/docs")).text
    assert '"validatorUrl": null' in html


async def test_the_api_description_is_still_served_and_assets_are_not_listed(wx: Harness) -> None:
    spec = (await wx.desk.get("/openapi.json")).json()
    assert spec["info"]["title"] == "complaintdesk"
    assert not any(path.startswith("/docs") for path in spec["paths"])
    assert (await wx.desk.get("/docs/assets/")).status_code == 404  # no directory listing
    assert (await wx.desk.get("/docs/assets/../core.py")).status_code == 404
