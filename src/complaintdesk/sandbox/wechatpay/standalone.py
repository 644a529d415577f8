"""The WeChat Pay simulator as a standalone product: keys kept in a folder, merchants added at run time.

Folder layout (``--state-dir``)::

    platform/                      WeChat Pay's own keys (private keys 0600), reused on the next start
    merchants/<mchid>/             apiclient_key.pem, apiclient_cert.pem, apiv3_key.txt,
                                   platform_cert.pem, wechatpay_pub_key.pem, merchant.json
    merchants/<mchid>/platform_certs/<serial>.pem   a ``cert_dir`` for SDKs (certificate mode)

Control endpoint (unauthenticated; keep the simulator on loopback): ``POST /sandbox/merchants`` with
``{"mchid": "1900000001", "notify_url": "https://…", "complaints": 5}`` registers (or re-opens) a
merchant and answers what a developer needs; ``GET /sandbox/merchants`` lists them.
``POST /sandbox/certificates/rotate`` issues a new platform certificate (it signs from then on, the old one
stays listed); ``POST /sandbox/certificates/retire`` ``{"serial_no": "…"}`` stops listing and using one.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from cryptography import x509
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from complaintdesk.sandbox.common.standalone import (
    SpecError,
    check_count,
    check_fields,
    check_url,
    json_object,
    parse_spec,
)
from complaintdesk.sandbox.wechatpay.keys import (
    MerchantCredentials,
    PlatformKeys,
    _write,
    generate_merchant,
    generate_platform,
    write_merchant_files,
)
from complaintdesk.sandbox.wechatpay.scenarios import seed
from complaintdesk.sandbox.wechatpay.state import SimulatorState

MCHID = re.compile(r"[0-9]{6,20}")
_OPTIONS = ("notify_url", "complaints")
MerchantSpecError = SpecError


def _serial(certificate_pem: bytes) -> str:
    return format(x509.load_pem_x509_certificate(certificate_pem).serial_number, "X")


def load_or_create_platform(directory: Path) -> PlatformKeys:
    """WeChat Pay's keys from ``directory`` (written there on first use)."""
    names = ("cert_key.pem", "cert.pem", "pub_key_private.pem", "pub_key.pem", "pub_key_id.txt")
    paths = [directory / name for name in names]
    if all(path.is_file() for path in paths):
        cert_key, cert, pub_private, pub, key_id = (path.read_bytes() for path in paths)
        return PlatformKeys(cert_key, cert, _serial(cert), pub_private, pub, key_id.decode("ascii").strip())
    if any(path.exists() for path in paths):
        missing = ", ".join(path.name for path in paths if not path.exists())
        raise SpecError(f"{directory} holds only part of the platform keys (missing: {missing})")
    directory.mkdir(parents=True, exist_ok=True)
    keys = generate_platform()
    for path, data, mode in zip(
        paths,
        (
            keys.cert_private_key_pem,
            keys.certificate_pem,
            keys.pubkey_private_key_pem,
            keys.public_key_pem,
            keys.public_key_id.encode(),
        ),
        (0o600, 0o644, 0o600, 0o644, 0o644),
        strict=True,
    ):
        _write(path, data, mode)
    return keys


def parse_merchant_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``mchid[:notify_url=URL,complaints=N]`` into ``(mchid, options)``; ``SpecError`` if bad."""
    mchid, options = parse_spec(spec, _OPTIONS)
    return mchid, check_options(mchid, options)


def check_options(mchid: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Validate a merchant registration; returns the normalised options."""
    if not isinstance(mchid, str) or not MCHID.fullmatch(mchid):
        raise SpecError("mchid must be 6 to 20 digits")
    check_fields(options, _OPTIONS)
    return {
        "notify_url": check_url("notify_url", options.get("notify_url")),
        "complaints": check_count(options.get("complaints", 0)),
    }


class Sandbox:
    """A simulator state whose keys and merchants live in ``root``."""

    def __init__(self, state: SimulatorState, root: Path, base_url: str, seed: int | None = None) -> None:
        self.state = state
        self.root = root
        self.base_url = base_url.rstrip("/")
        self._rng = random.Random(seed)  # seeded complaints: same seed, same complaints

    def _dir(self, mchid: str) -> Path:
        return self.root / "merchants" / mchid

    def load_saved(self) -> list[str]:
        """Re-register every merchant found in the folder (keys and notify URL); returns their ids."""
        found = []
        for meta in sorted((self.root / "merchants").glob("*/merchant.json")):
            saved = json.loads(meta.read_text(encoding="utf-8"))
            self.register(saved["mchid"], notify_url=saved.get("notify_url"))
            found.append(saved["mchid"])
        return found

    def register(self, mchid: str, *, notify_url: str | None = None, complaints: int = 0) -> dict[str, Any]:
        """Register ``mchid`` (reusing keys in the folder, else new ones) and seed complaints."""
        directory = self._dir(mchid)
        credentials = self._credentials(mchid, directory)
        files = write_merchant_files(directory, credentials, self.state.platform)
        certs = directory / "platform_certs"
        certs.mkdir(exist_ok=True)
        _write(certs / f"{self.state.platform.serial_no}.pem", self.state.platform.certificate_pem, 0o644)
        meta = {"mchid": mchid, "notify_url": notify_url}
        _write(directory / "merchant.json", json.dumps(meta).encode(), 0o644)
        self.state.register_merchant(credentials, notify_url=notify_url)
        if complaints:
            seed(self.state, mchid, count=complaints, days=7, rng=self._rng)
        return self.describe(mchid, files, certs)

    def _credentials(self, mchid: str, directory: Path) -> MerchantCredentials:
        key, cert, apiv3 = (
            directory / n for n in ("apiclient_key.pem", "apiclient_cert.pem", "apiv3_key.txt")
        )
        if key.is_file() and cert.is_file() and apiv3.is_file():
            cert_pem = cert.read_bytes()
            apiv3_key = apiv3.read_text(encoding="ascii").strip()
            return MerchantCredentials(mchid, key.read_bytes(), cert_pem, _serial(cert_pem), apiv3_key)
        return generate_merchant(mchid)

    def describe(self, mchid: str, files: dict[str, Path], certs: Path) -> dict[str, Any]:
        """What a developer configures in an SDK (paths, never key contents)."""
        merchant = self.state.merchants.require(mchid)
        platform = self.state.platform
        return {
            "mchid": mchid,
            "base_url": self.base_url,
            "merchant_serial_no": merchant.credentials.serial_no,
            "private_key_file": str(files["private_key"].resolve()),
            "certificate_file": str(files["certificate"].resolve()),
            "apiv3_key_file": str(files["apiv3_key"].resolve()),
            "sign_mode": str(self.state.sign_mode),
            "platform_serial_no": self.state.certificates.current.serial_no,
            "platform_certificate_file": str(files["platform_certificate"].resolve()),
            "platform_cert_dir": str(certs.resolve()),
            "public_key_id": platform.public_key_id,
            "public_key_file": str(files["public_key"].resolve()),
            "notify_url": merchant.notify_url,
        }

    def describe_all(self) -> list[dict[str, Any]]:
        """``describe`` for every registered merchant."""
        out = []
        for mchid in self.state.merchants.ids():
            directory = self._dir(mchid)
            files = {
                "private_key": directory / "apiclient_key.pem",
                "certificate": directory / "apiclient_cert.pem",
                "apiv3_key": directory / "apiv3_key.txt",
                "platform_certificate": directory / "platform_cert.pem",
                "public_key": directory / "wechatpay_pub_key.pem",
            }
            out.append(self.describe(mchid, files, directory / "platform_certs"))
        return out


def add_control_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """``POST``/``GET /sandbox/merchants`` on the simulator app."""

    @app.post("/sandbox/merchants")
    async def add_merchant(request: Request) -> JSONResponse:
        try:
            body = json_object(await request.body())
            fields = {k: v for k, v in body.items() if k != "mchid"}
            options = check_options(body.get("mchid"), fields)
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and MerchantSpecError included
            return JSONResponse({"code": "PARAM_ERROR", "message": str(exc)}, status_code=400)
        return JSONResponse(sandbox.register(body["mchid"], **options), status_code=201)

    @app.get("/sandbox/merchants")
    async def list_merchants() -> JSONResponse:
        return JSONResponse({"data": sandbox.describe_all()})

    @app.post("/sandbox/certificates/rotate")
    async def rotate() -> JSONResponse:
        issued = sandbox.state.certificates.rotate()
        return JSONResponse(certificates(sandbox) | {"issued": issued.serial_no}, status_code=201)

    @app.post("/sandbox/certificates/retire")
    async def retire(request: Request) -> JSONResponse:
        try:
            serial = json_object(await request.body()).get("serial_no")
            if not isinstance(serial, str):
                raise SpecError('the body must name the certificate: {"serial_no": "…"}')
            sandbox.state.certificates.retire(serial)
        except (ValueError, UnicodeDecodeError) as exc:
            return JSONResponse({"code": "PARAM_ERROR", "message": str(exc)}, status_code=400)
        return JSONResponse(certificates(sandbox))


def certificates(sandbox: Sandbox) -> dict[str, Any]:
    """Listed platform certificates (oldest first) and the one that signs."""
    ring = sandbox.state.certificates
    return {"active": [c.serial_no for c in ring.active()], "signing": ring.current.serial_no}
