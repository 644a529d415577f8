"""Sign-in for the console: ``core.users.login.authenticate`` with messages an operator can read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from complaintdesk.core.users import login as login_service
from complaintdesk.core.users.models import User
from complaintdesk.errors import Forbidden
from complaintdesk.web.console.i18n import gettext as _


@dataclass(frozen=True)
class SignInResult:
    """The signed-in user, or why not (``locked`` for throttling)."""

    user: User | None
    message: str = ""
    locked: bool = False


def sign_in(*, session: Session, username: str, password: str, ip: str, now: datetime) -> SignInResult:
    """Check the password; throttled per user and per address by the core (5 failures → 15 min)."""
    if not username or not password:
        return SignInResult(None, _("Enter your username and password."))
    try:
        user = login_service.authenticate(
            session=session, username=username, password=password, ip=ip, now=now
        )
    except Forbidden as exc:
        reason = exc.context.get("reason", "invalid")
        minutes = max(1, math.ceil(int(exc.context.get("retry_after", 0) or 0) / 60))
        if reason == "locked":
            return SignInResult(
                None,
                _(
                    "Too many failed sign-ins for this user. Try again in %(minutes)d minutes.",
                    minutes=minutes,
                ),
                True,
            )
        if reason == "address_locked":
            return SignInResult(
                None,
                _(
                    "Too many failed sign-ins from this address. Try again in %(minutes)d minutes.",
                    minutes=minutes,
                ),
                True,
            )
        return SignInResult(None, _("Wrong username or password."))
    return SignInResult(user)


_REFUSALS = {
    "the current password is not correct": "The current password is not correct.",
    "the password must not be the username": "The password must not be the username.",
    "the new password must differ from the current one": "The new password must differ from the current one.",
}


def translate_refusal(message: str) -> str:
    """A core refusal about passwords in the current language (other messages are shown as they are)."""
    if message.startswith("the password must be at least"):
        return _("The password must be at least 10 characters long.")
    known = _REFUSALS.get(message)
    return _(known) if known else message
