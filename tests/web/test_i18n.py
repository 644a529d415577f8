"""Translations and display formats: every console string has a zh-CN translation; yuan; Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from complaintdesk.web import console
from complaintdesk.web.console import i18n
from complaintdesk.web.console.render import local_time, yuan

CONSOLE_DIR = Path(console.__file__).parent


def _used_messages() -> set[str]:
    found: set[str] = set()
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}
    for _name, _line, message, _comments, _context in extract_from_dir(
        str(CONSOLE_DIR), method_map, options_map=options, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_console_string_is_translated_into_chinese() -> None:
    used = _used_messages()
    assert len(used) > 150  # the extractor really read the templates
    with (CONSOLE_DIR / "locale/zh_CN/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    missing = sorted(m for m in used if not (catalog.get(m) and catalog.get(m).string))  # type: ignore[union-attr]
    assert missing == []


def test_languages_switch_and_english_falls_back_to_the_message_id() -> None:
    i18n.set_language("en")
    assert i18n.gettext("Inbox") == "Inbox"
    i18n.set_language("zh_CN")
    assert i18n.gettext("Inbox") == "收件箱"
    assert i18n.gettext("%(count)d complaints updated.", count=3) == "已更新 3 条投诉。"
    i18n.set_language("fr")
    assert i18n.current_language() == "zh-CN"


def test_money_is_shown_in_yuan_from_fen() -> None:
    assert [yuan(12345), yuan(5), yuan(0), yuan(123456789), yuan(-250), yuan(None)] == [
        "¥123.45", "¥0.05", "¥0.00", "¥1,234,567.89", "-¥2.50", "",
    ]  # fmt: skip


def test_times_are_shown_in_shanghai() -> None:
    assert local_time(datetime(2026, 1, 1, 16, 30, tzinfo=UTC)) == "2026-01-02 00:30"
    assert local_time(None) == ""


def test_the_session_cookie_is_secure_behind_https_and_forgeries_decode_to_nothing() -> None:
    from complaintdesk.web.console.middleware import ConsoleSessionMiddleware
    from complaintdesk.web.console.session import ConsoleSession, SessionCodec, derive_secret

    codec = SessionCodec(derive_secret(b"k" * 40))
    session = ConsoleSession()
    session.login(7, 3, now=1000, session_id="s" * 43)
    cookie = ConsoleSessionMiddleware(lambda *a: None, codec=codec, secure=True)._cookie(session)  # type: ignore[arg-type]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert codec.loads(value)["u"] == 7
    assert SessionCodec(derive_secret(b"j" * 40)).loads(value) == {}  # another key: no session
    assert derive_secret(b"k" * 40) != b"k" * 32  # not the data key itself
