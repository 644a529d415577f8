"""Console translations: gettext catalogs (``locale/*/messages.po``) compiled in memory with Babel at startup.

Message ids are English; ``zh_CN`` is the default language, ``en`` one click away. Only ``.po`` files are
kept in the repository: :func:`catalog` compiles each once per process (no ``.mo`` binaries to commit).
"""

from __future__ import annotations

import functools
import io
from contextvars import ContextVar
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
#: Language codes the console offers, default first.
LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}

_current: ContextVar[str] = ContextVar("console_language", default=DEFAULT_LANGUAGE)


def normalise(language: str | None) -> str:
    """A supported language code for ``language`` (anything unknown becomes the default)."""
    if not language:
        return DEFAULT_LANGUAGE
    value = language.strip().replace("_", "-").lower()
    if value.startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


@functools.cache
def catalog(language: str) -> Translations:
    """The compiled catalog of a language (compiled from its ``.po`` once per process)."""
    folder = "zh_CN" if normalise(language) == "zh-CN" else "en"
    po_path = LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as handle:
        parsed = read_po(handle, locale=folder)
    buffer = io.BytesIO()
    write_mo(buffer, parsed)
    buffer.seek(0)
    return Translations(buffer)


def set_language(language: str) -> None:
    """Make ``language`` the one used by :func:`gettext` in the current context."""
    _current.set(normalise(language))


def current_language() -> str:
    """The language of the current request."""
    return _current.get()


def gettext(message: str, **variables: object) -> str:
    """Translate ``message`` into the current language and fill ``%(name)s`` placeholders."""
    text = catalog(_current.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """Plural-aware :func:`gettext`; ``n`` is available as ``%(num)d``."""
    text = catalog(_current.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext
