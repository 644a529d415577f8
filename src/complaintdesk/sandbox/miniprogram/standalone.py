"""The Mini Program simulator standalone: app credentials kept in a folder, apps added at run time.

Folder (``--state-dir``): ``apps/<appid>/`` with ``app_secret``, ``token``, ``encoding_aes_key`` (0600) and
``app.json`` (appid, original id, message server URL, format, mode). Control endpoint (unauthenticated):
``POST /sandbox/apps`` ``{"appid": "wx…", "push_url": "https://…", "message_format": "json",
"message_mode": "safe", "complaints": 5}``; ``GET /sandbox/apps``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from complaintdesk.sandbox.common.standalone import (
    SpecError,
    check_count,
    check_fields,
    check_url,
    json_object,
    parse_spec,
    write_file,
)
from complaintdesk.sandbox.miniprogram.keys import AppCredentials, generate_app
from complaintdesk.sandbox.miniprogram.scenarios import seed
from complaintdesk.sandbox.miniprogram.state import MiniProgramState

APPID = re.compile(r"wx[0-9a-f]{16}")
_FIELDS = ("push_url", "message_format", "message_mode", "complaints")
_SPEC = {
    "push_url": "push_url",
    "format": "message_format",
    "mode": "message_mode",
    "complaints": "complaints",
}
_SECRETS = ("app_secret", "token", "encoding_aes_key")


def parse_app_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``appid[:push_url=URL,format=xml|json,mode=safe|compatible|plaintext,complaints=N]``."""
    appid, options = parse_spec(spec, _SPEC)
    return appid, check_app(appid, {_SPEC[key]: value for key, value in options.items()})


def check_app(appid: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Validate an app registration; returns the normalised options."""
    if not isinstance(appid, str) or not APPID.fullmatch(appid):
        raise SpecError("appid must be wx followed by 16 lowercase hex digits")
    check_fields(options, _FIELDS)
    message_format = options.get("message_format", "json")
    if message_format not in ("xml", "json"):
        raise SpecError("message_format must be xml or json")
    message_mode = options.get("message_mode", "safe")
    if message_mode not in ("safe", "compatible", "plaintext"):
        raise SpecError("message_mode must be safe, compatible or plaintext")
    return {
        "push_url": check_url("push_url", options.get("push_url")),
        "message_format": message_format,
        "message_mode": message_mode,
        "complaints": check_count(options.get("complaints", 0)),
    }


class MiniProgramSandbox:
    """A simulator state whose apps live in ``root``; CDN links point at ``base_url``."""

    def __init__(self, state: MiniProgramState, root: Path, base_url: str, seed: int | None = None) -> None:
        self.state = state
        self.root = root
        self.base_url = base_url.rstrip("/")
        state.public_base_url = self.base_url
        self._rng = random.Random(seed)

    def load_saved(self) -> list[str]:
        """Re-register every app found in the folder; returns their appids."""
        found = []
        for meta in sorted((self.root / "apps").glob("*/app.json")):
            saved = json.loads(meta.read_text(encoding="utf-8"))
            self.register(
                saved["appid"], **{k: saved.get(k) for k in ("push_url", "message_format", "message_mode")}
            )
            found.append(saved["appid"])
        return found

    def register(
        self,
        appid: str,
        *,
        push_url: str | None = None,
        message_format: str = "json",
        message_mode: str = "safe",
        complaints: int = 0,
    ) -> dict[str, Any]:
        """Register ``appid`` (reusing its secrets from the folder, else new ones); seed complaints."""
        directory = self.root / "apps" / appid
        files = {name: directory / name for name in _SECRETS}
        if all(path.is_file() for path in files.values()):
            secret, token, aes = (files[n].read_text(encoding="ascii").strip() for n in _SECRETS)
            meta = json.loads((directory / "app.json").read_text(encoding="utf-8"))
            creds = AppCredentials(appid, secret, token, aes, meta["original_id"])
        else:
            creds = generate_app(appid)
            for name, value in zip(
                _SECRETS, (creds.secret, creds.token, creds.encoding_aes_key), strict=True
            ):
                write_file(files[name], value.encode("ascii"), 0o600)
        meta = {
            "appid": appid,
            "original_id": creds.original_id,
            "push_url": push_url,
            "message_format": message_format,
            "message_mode": message_mode,
        }
        write_file(directory / "app.json", json.dumps(meta).encode(), 0o644)
        self.state.register(
            creds, push_url=push_url, message_format=message_format, message_mode=message_mode
        )
        if complaints:
            seed(self.state, appid, count=complaints, days=7, rng=self._rng)
        return self.describe(appid)

    def describe(self, appid: str) -> dict[str, Any]:
        """What a developer configures (file paths, never secret values)."""
        directory = self.root / "apps" / appid
        meta = json.loads((directory / "app.json").read_text(encoding="utf-8"))
        files = {f"{name}_file": str((directory / name).resolve()) for name in _SECRETS}
        return {**meta, "base_url": self.base_url, **files}

    def describe_all(self) -> list[dict[str, Any]]:
        """``describe`` for every registered app."""
        return [self.describe(appid) for appid in self.state.apps]


def add_control_routes(app: FastAPI, sandbox: MiniProgramSandbox) -> None:
    """``POST``/``GET /sandbox/apps`` on the simulator app."""

    @app.post("/sandbox/apps")
    async def add_app(request: Request) -> JSONResponse:
        try:
            body = json_object(await request.body())
            options = check_app(body.get("appid"), {k: v for k, v in body.items() if k != "appid"})
        except (ValueError, UnicodeDecodeError) as exc:
            return JSONResponse({"errcode": 40097, "errmsg": str(exc)}, status_code=400)
        return JSONResponse(sandbox.register(body["appid"], **options), status_code=201)

    @app.get("/sandbox/apps")
    async def list_apps() -> JSONResponse:
        return JSONResponse({"data": sandbox.describe_all()})
