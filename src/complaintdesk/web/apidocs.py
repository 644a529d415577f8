"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with their assets served by us, never from a CDN.

The assets come from the ``fastapi-offline`` package (Swagger UI's and ReDoc's published dist
files), so the pages work where public CDNs are slow or unreachable (often the case in mainland
China) and no visitor's browser is sent to a foreign host.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

ASSETS = Path(fastapi_offline.__file__).parent / "static"
#: Under ``/docs`` so that the console's session middleware leaves the assets alone.
ASSETS_URL = "/docs/assets"
#: Swagger UI's defaults plus no validator badge (it would load an image from validator.swagger.io).
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def mount(app: FastAPI) -> None:
    """Add the two documentation pages and their assets (the app is created without FastAPI's own)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="apidocs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
