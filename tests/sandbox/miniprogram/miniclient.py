"""A tiny Mini Program API client for the tests (token cache, JSON calls, multipart upload)."""

from __future__ import annotations

from typing import Any

import httpx

from complaintdesk.sandbox.miniprogram import AppCredentials

API = "https://api.weixin.qq.com"
TOKEN_ERRORS = (40001, 40014, 42001)


class MiniClient:
    def __init__(self, http: httpx.AsyncClient, creds: AppCredentials) -> None:
        self.http = http
        self.creds = creds
        self._token: str | None = None

    async def stable_token(self, *, force: bool = False, secret: str | None = None) -> dict[str, Any]:
        body = {
            "grant_type": "client_credential",
            "appid": self.creds.appid,
            "secret": secret or self.creds.secret,
            "force_refresh": force,
        }
        response = await self.http.post("/cgi-bin/stable_token", json=body)
        assert response.status_code == 200
        data: dict[str, Any] = response.json()
        return data

    async def token(self) -> str:
        if self._token is None:
            data = await self.stable_token()
            self._token = str(data["access_token"])
        return self._token

    async def detail(self, complaint_id: str | int, *, token: str | None = None) -> dict[str, Any]:
        for _ in range(2):
            params = {"access_token": token or await self.token(), "complaintOrderId": str(complaint_id)}
            response = await self.http.get("/wxaapi/minishop/complaintOrderDetail", params=params)
            assert response.status_code == 200
            data: dict[str, Any] = response.json()
            if token is not None or data.get("errcode") not in TOKEN_ERRORS:
                break
            self._token = None  # refresh once, like a real client
        return data

    async def post(self, name: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
        url = f"/wxaapi/minishop/{name}"
        for _ in range(2):
            params = {"access_token": await self.token()}
            if isinstance(body, bytes):
                response = await self.http.post(url, params=params, content=body)
            else:
                response = await self.http.post(url, params=params, json=body)
            assert response.status_code == 200
            data: dict[str, Any] = response.json()
            if data.get("errcode") not in TOKEN_ERRORS:
                break
            self._token = None
        return data

    async def upload(self, data: bytes, *, kind: str = "image", field: str = "media") -> dict[str, Any]:
        params = {"access_token": await self.token(), "type": kind}
        files = {field: ("evidence.png", data, "application/octet-stream")}
        response = await self.http.post("/cgi-bin/media/upload", params=params, files=files)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result
