"""Password rules, argon2id hashing and generated one-time passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from complaintdesk.errors import ActionRefused

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 hashes anything, but unbounded input is a cheap denial of service
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I

_state: dict[str, PasswordHasher | str] = {"hasher": PasswordHasher()}


def hasher() -> PasswordHasher:
    """The process-wide argon2id hasher (library defaults, which track current recommendations)."""
    current = _state["hasher"]
    assert isinstance(current, PasswordHasher)
    return current


def use_hasher(new: PasswordHasher) -> PasswordHasher:
    """Replace the hasher (tests use cheap parameters); returns the previous one."""
    previous = hasher()
    _state["hasher"] = new
    _state.pop("dummy", None)
    return previous


def check_rules(password: str, *, username: str) -> None:
    """Refuse a password that is too short, too long or equal to the username."""
    if len(password) < MIN_LENGTH:
        raise ActionRefused(f"the password must be at least {MIN_LENGTH} characters long", field="password")
    if len(password) > MAX_LENGTH:
        raise ActionRefused(f"the password must be at most {MAX_LENGTH} characters long", field="password")
    if password.strip().lower() == username.strip().lower():
        raise ActionRefused("the password must not be the username", field="password")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return hasher().hash(password)


def verify(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (never raises for a mismatch or a bad hash)."""
    try:
        return hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_time(password: str) -> None:
    """Spend the time of one verification (used when the username does not exist)."""
    dummy = _state.get("dummy")
    if not isinstance(dummy, str):  # a hash of a random password, made once per hasher
        dummy = _state["dummy"] = hash_password(secrets.token_urlsafe(16))
    verify(dummy, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the current ones."""
    try:
        return hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def generate(length: int = 16) -> str:
    """A random password from an unambiguous alphabet (for resets; shown once)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(max(length, MIN_LENGTH)))
