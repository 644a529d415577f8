"""The Huishouqian simulator standalone: keys kept in a folder, merchants added at run time.

Folder (``--state-dir``): ``platform/`` (the gateway's key, 0600, and certificate) and
``merchants/<merchant_no>/`` with what Huishouqian issues (``<no>_pri.pfx`` and its password, the sign key,
``MANDAO_<no>_pub.cer``) plus ``merchant.json``. Control endpoint (unauthenticated):
``POST /sandbox/merchants`` ``{"merchant_no": "888000000001", "notify_url": "https://…", "complaints": 5}``;
``GET /sandbox/merchants``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
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
from complaintdesk.sandbox.huishouqian.keys import (
    MerchantCredentials,
    PlatformKeys,
    generate_merchant,
    generate_platform,
    write_merchant_files,
)
from complaintdesk.sandbox.huishouqian.scenarios import seed
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

MERCHANT_NO = re.compile(r"[0-9]{6,20}")
_OPTIONS = ("notify_url", "complaints")


def load_or_create_platform(directory: Path) -> PlatformKeys:
    """The gateway's key pair from ``directory`` (written there on first use)."""
    key, cert = directory / "private_key.pem", directory / "certificate.pem"
    if key.is_file() and cert.is_file():
        return PlatformKeys(key.read_bytes(), cert.read_bytes())
    if key.exists() or cert.exists():
        raise SpecError(f"{directory} holds only part of the platform keys")
    platform = generate_platform()
    write_file(key, platform.private_key_pem, 0o600)
    write_file(cert, platform.certificate_pem, 0o644)
    return platform


def parse_merchant_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``merchant_no[:notify_url=URL,complaints=N]`` into ``(merchant_no, options)``."""
    merchant_no, options = parse_spec(spec, _OPTIONS)
    return merchant_no, check_merchant(merchant_no, options)


def check_merchant(merchant_no: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Validate a merchant registration; returns the normalised options."""
    if not isinstance(merchant_no, str) or not MERCHANT_NO.fullmatch(merchant_no):
        raise SpecError("merchant_no must be 6 to 20 digits")
    check_fields(options, _OPTIONS)
    return {
        "notify_url": check_url("notify_url", options.get("notify_url")),
        "complaints": check_count(options.get("complaints", 0)),
    }


class HuishouqianSandbox:
    """A simulator state whose keys and merchants live in ``root``."""

    def __init__(self, state: HuishouqianState, root: Path, base_url: str, seed: int | None = None) -> None:
        self.state = state
        self.root = root
        self.base_url = base_url.rstrip("/")
        self._rng = random.Random(seed)

    def _dir(self, merchant_no: str) -> Path:
        return self.root / "merchants" / merchant_no

    def load_saved(self) -> list[str]:
        """Re-register every merchant found in the folder; returns their numbers."""
        found = []
        for meta in sorted((self.root / "merchants").glob("*/merchant.json")):
            saved = json.loads(meta.read_text(encoding="utf-8"))
            self.register(saved["merchant_no"], notify_url=saved.get("notify_url"))
            found.append(saved["merchant_no"])
        return found

    def register(
        self, merchant_no: str, *, notify_url: str | None = None, complaints: int = 0
    ) -> dict[str, Any]:
        """Register ``merchant_no`` (reusing its files, else new credentials); seed complaints."""
        directory = self._dir(merchant_no)
        creds = self._credentials(merchant_no, directory) or generate_merchant(merchant_no)
        write_merchant_files(directory, creds, self.state.platform)
        meta = {"merchant_no": merchant_no, "notify_url": notify_url}
        write_file(directory / "merchant.json", json.dumps(meta).encode(), 0o644)
        self.state.register_merchant(creds, notify_url=notify_url)
        if complaints:
            seed(self.state, merchant_no, count=complaints, days=7, rng=self._rng)
        return self.describe(merchant_no)

    def _credentials(self, no: str, directory: Path) -> MerchantCredentials | None:
        pfx, password, sign_key = (
            directory / f"{no}_pri.pfx",
            directory / f"{no}_pri_password.txt",
            directory / f"{no}_sign_key.txt",
        )
        if not (pfx.is_file() and password.is_file() and sign_key.is_file()):
            return None
        secret = password.read_text(encoding="ascii").strip()
        _, cert, _ = pkcs12.load_key_and_certificates(pfx.read_bytes(), secret.encode("ascii"))
        if cert is None:
            raise SpecError(f"{pfx} holds no certificate")
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        return MerchantCredentials(
            no, pfx.read_bytes(), secret, cert_pem, sign_key.read_text("ascii").strip()
        )

    def describe(self, merchant_no: str) -> dict[str, Any]:
        """What a developer configures (file paths, never secret values)."""
        directory = self._dir(merchant_no).resolve()
        merchant = self.state.merchants.require(merchant_no)
        no = merchant_no
        return {
            "merchant_no": no,
            "base_url": self.base_url,
            "private_key_p12_file": str(directory / f"{no}_pri.pfx"),
            "private_key_password_file": str(directory / f"{no}_pri_password.txt"),
            "sign_key_file": str(directory / f"{no}_sign_key.txt"),
            "platform_certificate_file": str(directory / f"MANDAO_{no}_pub.cer"),
            "notify_url": merchant.notify_url,
        }

    def describe_all(self) -> list[dict[str, Any]]:
        """``describe`` for every registered merchant."""
        return [self.describe(no) for no in self.state.merchants.ids()]


def add_control_routes(app: FastAPI, sandbox: HuishouqianSandbox) -> None:
    """``POST``/``GET /sandbox/merchants`` on the simulator app."""

    @app.post("/sandbox/merchants")
    async def add_merchant(request: Request) -> JSONResponse:
        try:
            body = json_object(await request.body())
            fields = {k: v for k, v in body.items() if k != "merchant_no"}
            options = check_merchant(body.get("merchant_no"), fields)
        except (ValueError, UnicodeDecodeError) as exc:
            return JSONResponse({"code": "PARAM_ERROR", "message": str(exc)}, status_code=400)
        return JSONResponse(sandbox.register(body["merchant_no"], **options), status_code=201)

    @app.get("/sandbox/merchants")
    async def list_merchants() -> JSONResponse:
        return JSONResponse({"data": sandbox.describe_all()})
