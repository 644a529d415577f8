"""The page crawler's eyes: what a page shows as text, and what in it is a raw code or untranslated.

Data (ids, names, amounts, order numbers, what users wrote) is marked in the templates with the standard
HTML attribute ``translate="no"``; ``<kbd>``, ``<code>``, ``<script>``, ``<style>``, the ``<head>`` and what a
``<textarea>`` holds (what the operator typed) are data too. Everything else a page shows — text nodes and
the ``title``/``placeholder``/``aria-label``/``alt`` attributes — must be in the page's language:

- **raw code**: a token that is a code of one of our tables or enums (``USER_RESPONSE``, ``sla_breach``,
  ``status:201``), or a text node that is exactly a numeric upstream code (``16``);
- **English in zh-CN**: any Latin word outside a short allow-list of names people write in Latin letters;
- **Chinese in en**: any CJK character;
- **placeholder**: an unfilled ``%(name)s``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from complaintdesk.channels.base import ActionKind, UnifiedStatus
from complaintdesk.core.alerts.events import EventKind
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.sla.rules import DeadlineKind, SlaState
from complaintdesk.core.users.permissions import Role
from complaintdesk.web.console import code_tables

#: Latin words a zh-CN page may show (product and format names, units).
ZH_ALLOWED = frozenset(
    {"API", "CSV", "SLA", "JPG", "PNG", "BMP", "GIF", "JPEG", "MB", "ID", "IP", "URL"}
    | {"XLSX", "HTTP", "SMTP", "STARTTLS", "Webhook", "Webhooks", "Standard"}  # formats, protocols
)
_SKIP_TAGS = frozenset(
    {"script", "style", "head", "kbd", "code", "template", "noscript", "title", "textarea"}
)
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_ATTRS = ("title", "placeholder", "aria-label", "alt")
_LATIN = re.compile(r"[A-Za-z][A-Za-z'’]*")
_TOKEN = re.compile(r"[A-Za-z0-9_.:\-]+")
_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def _core_codes() -> set[str]:
    values: set[str] = set()
    for enum in (UnifiedStatus, ActionKind, EventKind, AuditAction, DeadlineKind, SlaState, Role):
        values |= {str(member.value) for member in enum}  # type: ignore[attr-defined]
    values |= {"sla_breach", "sla_warning", "pending", "sending", "uncertain", "sent", "failed"}
    values |= {"respond", "supply_proof", "supply_refund", "appeal", "mp_action"}
    return values


def _looks_like_code(value: str) -> bool:
    """Codes that cannot be ordinary words: with ``_ . :`` or in capitals."""
    return bool(re.search(r"[_.:]", value)) or (value.isupper() and len(value) >= 3)


def code_vocabulary() -> tuple[frozenset[str], frozenset[str]]:
    """(word-like codes to find as tokens, numeric upstream codes to find as whole text nodes)."""
    words: set[str] = set()
    numbers: set[str] = set()
    for table in code_tables.TABLES.values():
        for code in table:
            (numbers if code.lstrip("-").isdigit() else words).add(code)
    words |= _core_codes()
    return frozenset(w for w in words if _looks_like_code(w) or "_" in w), frozenset(numbers)


@dataclass
class Page:
    """What a page shows: its text runs (with where they came from) and its links."""

    texts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[str, bool]] = []  # (tag, hides text)

    def _hidden(self) -> bool:
        return any(hides for _, hides in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("href", "data-href"):
            target = values.get(name)
            if target and tag in ("a", "tr"):
                self.page.links.append(target)
        hides = tag in _SKIP_TAGS or values.get("translate") == "no"
        if not hides and not self._hidden():
            self.page.texts += [f"@{a}: {values[a]}" for a in _ATTRS if values.get(a)]
            if (
                tag in ("button", "input")
                and values.get("type") in ("submit", "button")
                and values.get("value")
            ):
                self.page.texts.append(f"@value: {values['value']}")
        if tag not in _VOID:
            self.stack.append((tag, hides))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._hidden():
            self.page.texts.append(text)


def read(html: str) -> Page:
    """Parse a page."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def findings(page: Page, language: str, words: frozenset[str], numbers: frozenset[str]) -> list[str]:
    """Everything on the page that is not in ``language``."""
    out: list[str] = []
    for text in page.texts:
        shown = text.split(": ", 1)[1] if text.startswith("@") else text
        for token in _TOKEN.findall(shown):
            if token.strip(".:-") in words:
                out.append(f"raw code {token.strip('.:-')!r} in {text!r}")
        if shown in numbers:
            out.append(f"raw numeric code {shown!r}")
        if "%(" in shown:
            out.append(f"unfilled placeholder in {text!r}")
        if language == "zh-CN":
            latin = [w for w in _LATIN.findall(shown) if w not in ZH_ALLOWED]
            if latin:
                out.append(f"English {' '.join(latin[:6])!r} in {text!r}")
        elif _CJK.search(shown):
            out.append(f"Chinese in {text!r}")
    return out


#: Paths never followed: they change state, stream, or are not pages.
_SKIP = re.compile(r"^/(logout|live|media/|static/|api/|webhooks/)|\.(csv|json)$")


def same_site_path(base: str, href: str) -> str | None:
    """The path+query a link leads to on this site, or None (other site, fragment only, not a page)."""
    if href.startswith(("#", "mailto:", "javascript:")):
        return None
    url = urlsplit(urljoin(base, href))
    if url.netloc and url.netloc != urlsplit(base).netloc:
        return None
    if _SKIP.search(url.path):
        return None
    return url.path + (f"?{url.query}" if url.query else "")
