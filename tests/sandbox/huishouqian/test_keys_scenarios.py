"""Generated key files, and seeded populations / live traffic."""

from __future__ import annotations

import random
import stat
from collections import Counter
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.huishouqian.keys import MerchantCredentials, PlatformKeys, write_merchant_files
from complaintdesk.sandbox.huishouqian.model import SHANGHAI
from complaintdesk.sandbox.huishouqian.scenarios import live_event, seed
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

from .conftest import MCH_A, SUB_1


def _public_der(key: object) -> bytes:
    assert hasattr(key, "public_bytes")
    der: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def test_merchant_files(
    tmp_path: Path, platform: PlatformKeys, creds: dict[str, MerchantCredentials]
) -> None:
    merchant = creds[MCH_A]
    files = write_merchant_files(tmp_path / "hsq", merchant, platform)
    assert set(files) == {"private_key_p12", "private_key_password", "platform_certificate", "sign_key"}
    assert files["platform_certificate"].name == f"MANDAO_{MCH_A}_pub.cer"
    for name in ("private_key_p12", "private_key_password", "sign_key"):
        assert stat.S_IMODE(files[name].stat().st_mode) == 0o600, name
    password = files["private_key_password"].read_text()
    key, cert, _ = pkcs12.load_key_and_certificates(files["private_key_p12"].read_bytes(), password.encode())
    assert key is not None and cert is not None
    own_cert = x509.load_pem_x509_certificate(merchant.certificate_pem)
    assert (
        _public_der(key.public_key()) == _public_der(own_cert.public_key()) == _public_der(cert.public_key())
    )
    sign_key = files["sign_key"].read_text()
    assert len(sign_key) == 32 and all(ch in "0123456789abcdef" for ch in sign_key)
    platform_cert = x509.load_pem_x509_certificate(files["platform_certificate"].read_bytes())
    platform_key = serialization.load_pem_private_key(platform.private_key_pem, password=None)
    assert _public_der(platform_cert.public_key()) == _public_der(platform_key.public_key())
    der = write_merchant_files(tmp_path / "der", merchant, platform, certificate_format="der")
    assert x509.load_der_x509_certificate(der["platform_certificate"].read_bytes()) == platform_cert
    assert creds[MCH_A].sign_key != creds[SUB_1].sign_key


def test_seed_spreads_a_realistic_mix(state: HuishouqianState, clock: ManualClock) -> None:
    ids = seed(state, MCH_A, count=200, days=20, rng=random.Random(3))
    assert len(ids) == len(set(ids)) == 200
    complaints = [state.get(cid) for cid in ids]
    assert all(clock.now() - timedelta(days=20) <= c.complaint_time <= clock.now() for c in complaints)
    assert len({c.complaint_time.astimezone(SHANGHAI).date() for c in complaints}) >= 15
    states = Counter(str(c.state) for c in complaints)
    assert min(states["PENDING"], states["PROCESSING"], states["PROCESSED"]) > 20
    assert any(c.full_refunded for c in complaints) and any(c.incoming_user_response for c in complaints)
    assert any(c.user_complaint_times > 1 for c in complaints)
    assert any(entry.image_urls for c in complaints for entry in c.history)
    for c in complaints:
        times = [entry.operate_time for entry in c.history]
        assert times == sorted(times) and c.history[0].operate_type == "USER_CREATE_COMPLAINT"
        if c.state != "PENDING":
            assert any(entry.operate_type == "MERCHANT_RESPONSE" for entry in c.history)
    actions = Counter(n.action_type for n in state.notifications)
    assert actions["CREATE_COMPLAINT"] == 200 and actions["MERCHANT_RESPONSE"] == 0


def test_seed_without_notifications(state: HuishouqianState) -> None:
    seed(state, SUB_1, count=20, days=5, notify=False)
    assert state.notifications == []


def test_live_events(state: HuishouqianState) -> None:
    rng = random.Random(9)
    touched = [live_event(state, rng) for _ in range(60)]
    assert set(touched) <= set(state.complaint_ids())
    assert 15 < len(state.complaint_ids()) < 50
    merchants = {state.get(cid).merchant_no for cid in state.complaint_ids()}
    assert "814000000900" not in merchants  # never against the agent itself
    actions = Counter(n.action_type for n in state.notifications)
    assert actions["USER_RESPONSE"] > 0
