"""The per-channel account forms: every credential named, where to find it, which feature needs it.

Labels and help are English message ids (translated when the page renders). :func:`read_form` turns a
submitted form into the fields of ``core.accounts.service`` and checks each secret (uploaded or given as
a ``file:``/``env:`` reference) by loading it the way the channel will; errors are in the UI's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile

from complaintdesk.core.accounts import secret_store
from complaintdesk.errors import ConfigError
from complaintdesk.security import resolve_secret
from complaintdesk.web.console.account_checks import check_secret
from complaintdesk.web.console.i18n import gettext as _

__all__ = ["CHANNEL_FORMS", "AccountForm", "ChannelForm", "SecretField", "features_off", "read_form"]

MAX_UPLOAD = 64 * 1024
_REF = re.compile(r"^(file:/\S{1,500}|env:[A-Za-z_][A-Za-z0-9_]{0,127})$")


@dataclass(frozen=True)
class SecretField:
    """One credential: ``column`` is the MerchantAccount column for WeChat Pay, else a ``secret_refs`` key."""

    name: str
    label: str
    where: str
    feature: str  # msgid of the feature that is off without it ("" = required for everything)
    upload: bool  # a key file (upload) rather than text pasted
    column: str = ""
    code: str = ""  # the upstream's own name of it (shown as data, untranslated)
    unless: tuple[str, str, str] = ("", "", "")  # (option, value, msgid): not needed when option == value


@dataclass(frozen=True)
class ChannelForm:
    """The form of one channel."""

    channel: str
    label: str
    id_label: str
    id_where: str
    id_pattern: re.Pattern[str]
    id_problem: str
    id_code: str
    secrets: tuple[SecretField, ...]
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)  # option → allowed (first default)
    texts: tuple[tuple[str, str, str, str], ...] = ()  # (column, label, where, code) non-secret texts


_MCH = "WeChat Pay merchant platform (pay.weixin.qq.com) → Account center → API security"
_MP_DEV = "WeChat Official Accounts Platform (mp.weixin.qq.com) → Development → Development settings"
_MP_PUSH = _MP_DEV + " → Message push"
_HSQ = "Sent by Huishouqian with the merchant's integration documents (merchant back office → key management)"
_PLAIN = "Required unless the message encryption mode is plaintext."
_CFCA = "Required unless the signature type is CFCA."
API_OFF = "Without it, syncing, replies and other actions are off; notifications still arrive."

CHANNEL_FORMS: dict[str, ChannelForm] = {
    "wechatpay": ChannelForm(
        "wechatpay", "WeChat Pay", "Merchant ID", _MCH, re.compile(r"^\d{8,12}$"),
        "The merchant ID is 8 to 12 digits.", "mchid",
        (
            SecretField("private_key", "Merchant API private key", _MCH, "", True, "private_key_ref",
                        "apiclient_key.pem"),
            SecretField("apiv3_key", "API key, version 3 (32 characters)", _MCH, "", False, "apiv3_key_ref",
                        "APIv3"),
            SecretField("public_key", "WeChat Pay public key", _MCH,
                        "Without it, platform certificates are downloaded instead.", True, "public_key_ref",
                        "pub_key.pem"),
        ),
        texts=(("merchant_serial", "Merchant API certificate serial number", _MCH, "serial_no"),
               ("public_key_id", "WeChat Pay public key ID", _MCH, "PUB_KEY_ID_…")),
    ),
    "miniprogram": ChannelForm(
        "miniprogram", "Mini Program", "Mini Program ID", _MP_DEV, re.compile(r"^wx[0-9a-f]{16}$"),
        "A Mini Program ID is 'wx' followed by 16 lowercase hexadecimal characters.", "AppID",
        (
            SecretField("token", "Message push token", _MP_PUSH, "", False, code="Token"),
            SecretField("encoding_aes_key", "Message encryption key (43 characters)", _MP_PUSH,
                        "", False, code="EncodingAESKey", unless=("message_mode", "plaintext", _PLAIN)),
            SecretField("app_secret", "Mini Program secret", _MP_DEV, API_OFF, False, code="AppSecret"),
        ),
        options={"message_mode": ("safe", "compatible", "plaintext"), "message_format": ("xml", "json")},
    ),
    "huishouqian": ChannelForm(
        "huishouqian", "Huishouqian", "Merchant number", _HSQ, re.compile(r"^\d{6,20}$"),
        "The merchant number is 6 to 20 digits.", "merchantNo",
        (
            SecretField("platform_certificate", "Platform certificate", _HSQ, "", True,
                        code="MANDAO_<merchantNo>_pub.cer"),
            SecretField("sign_key", "Signature mixing key", _HSQ, "", False, code="sign_key",
                        unless=("sign_type", "CFCA", _CFCA)),
            SecretField("private_key_p12", "Merchant private key", _HSQ, API_OFF, True, code="*_pri.pfx"),
            SecretField("private_key_password", "Private key password", _HSQ, API_OFF, False),
        ),
        options={"sign_type": ("RSA2", "CFCA")},
    ),
}  # fmt: skip


@dataclass
class AccountForm:
    """What a submitted form amounts to: fields for the service, or errors (in the UI's language)."""

    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def current_ref(account: Any, spec: SecretField) -> str:
    """The account's stored reference for one credential ('' when none)."""
    if account is None:
        return ""
    if spec.column:
        return str(getattr(account, spec.column) or "")
    return str((account.secret_refs or {}).get(spec.name, ""))


def features_off(channel: str, refs: dict[str, str]) -> list[str]:
    """Message ids of the features that are off because a secret is missing."""
    form = CHANNEL_FORMS[channel]
    missing = {s.feature for s in form.secrets if s.feature and not refs.get(s.name)}
    return sorted(missing - {_PK_OFF})


_PK_OFF = "Without it, platform certificates are downloaded instead."


def _given(form: FormData, spec: SecretField) -> tuple[str, bytes | None]:
    """(new reference, its bytes) from the upload, pasted value or reference field; ('', None) if none."""
    upload = form.get(f"{spec.name}__file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = upload.file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD or not data:
            raise ConfigError(_("%(label)s: the file is empty or too large.", label=_(spec.label)))
        return "upload", data
    value = form.get(f"{spec.name}__value")
    if isinstance(value, str) and value.strip():
        return "upload", value.strip().encode("utf-8")
    ref = form.get(f"{spec.name}__ref")
    if isinstance(ref, str) and ref.strip():
        if not _REF.match(ref.strip()):
            raise ConfigError(
                _("%(label)s: a reference is file:/absolute/path or env:NAME.", label=_(spec.label))
            )
        try:
            return ref.strip(), resolve_secret(ref.strip())
        except ConfigError:
            raise ConfigError(_("%(label)s: the reference cannot be read.", label=_(spec.label))) from None
    return "", None


def read_form(form: FormData, channel: str, data_dir: Path, name: str, account: Any = None) -> AccountForm:
    """Read and check a submitted form; secret values are checked, then stored as files (0600)."""
    spec = CHANNEL_FORMS[channel]
    out = AccountForm()
    mchid = str(form.get("mchid") or "").strip()
    if account is None:
        if not spec.id_pattern.match(mchid):
            out.errors.append(_(spec.id_problem))
        out.fields["mchid"] = mchid
    out.fields["display_name"] = str(form.get("display_name") or "").strip()[:128]
    base = str(form.get("api_base_url") or "").strip()
    if base and not re.match(r"^https?://[^\s/]+(/\S*)?$", base):
        out.errors.append(_("The upstream address must start with http:// or https://."))
    out.fields["api_base_url"] = base.rstrip("/")
    for column, _label, _where, _code in spec.texts:
        out.fields[column] = str(form.get(column) or "").strip()[:64]
    options = dict(account.options or {}) if account is not None else {}
    for option, allowed in spec.options.items():
        value = str(form.get(option) or allowed[0])
        if value not in allowed:
            out.errors.append(_("Choose one of the offered values."))
        options[option] = value
    if spec.options:
        out.fields["options"] = options
    pending: dict[str, bytes] = {}
    refs = dict(account.secret_refs or {}) if account is not None else {}
    values: dict[str, bytes] = {}
    for secret in spec.secrets:
        try:
            ref, data = _given(form, secret)
        except ConfigError as exc:
            out.errors.append(exc.public_message)
            continue
        if data is None:
            current = current_ref(account, secret)
            if current:
                refs[secret.name] = current
            elif not secret.feature and options.get(secret.unless[0]) != secret.unless[1]:
                out.errors.append(_("%(label)s is required.", label=_(secret.label)))
            continue
        values[secret.name] = data
        if ref == "upload":
            pending[secret.name] = data
        else:
            refs[secret.name] = ref
    for secret_name, data in values.items():
        problem = check_secret(channel, secret_name, data, values, options)
        if problem:
            label = next(s.label for s in spec.secrets if s.name == secret_name)
            out.errors.append(f"{_(label)}: {problem}")
    if out.errors:
        return out  # nothing written
    for secret_name, data in pending.items():
        refs[secret_name] = secret_store.store(data_dir, name, secret_name, data)
    _place_refs(out, spec, refs)
    return out


def _place_refs(out: AccountForm, spec: ChannelForm, refs: dict[str, str]) -> None:
    secret_refs: dict[str, str] = {}
    for secret in spec.secrets:
        ref = refs.get(secret.name, "")
        if secret.column:
            out.fields[secret.column] = ref
        elif ref:
            secret_refs[secret.name] = ref
    if spec.channel != "wechatpay":
        out.fields["secret_refs"] = secret_refs
