"""Password hashing with argon2id (argon2-cffi's recommended parameters), and the
zxcvbn strength check.

Both are slow on purpose (one argon2 verify is ~20 ms of CPU spread over 4 threads and
64 MiB, and far longer on a busy machine; zxcvbn's first call loads its dictionaries),
so the coroutines here run them on a small pool of their own threads: the event loop
that also serves webhooks and voice sockets never waits on them, and the pool's size
bounds the memory concurrent sign-ins can ask for. `hash_password_blocking` is for
code that runs outside an event loop (scripts)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_P = ParamSpec("_P")
_T = TypeVar("_T")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both paths cost the same time
    (made on first use: an argon2 hash takes ~0.1 s that most processes never need)."""
    return _hasher.hash("klosesales-timing-equaliser")


# At most this many hashes at once per process (each takes 64 MiB while it runs).
_POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="pw")

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 takes anything; this bounds the work one request can ask for


async def _in_thread(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, lambda: fn(*args, **kwargs))


def hash_password_blocking(password: str) -> str:
    """The argon2id hash of `password`, computed on the calling thread."""
    return _hasher.hash(password)


def _verify_blocking(password_hash: str | None, password: str) -> bool:
    try:
        matches = _hasher.verify(password_hash or _dummy_hash(), password)
        return matches and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """The argon2id hash of `password` (in a worker thread)."""
    return await _in_thread(hash_password_blocking, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash` (in a worker thread). A None hash
    (unknown email, or an account without a password) costs the same and is False."""
    return await _in_thread(_verify_blocking, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Cheap: compares the hash's parameters with the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def _strength_problem_blocking(password: str, user_inputs: list[str]) -> str | None:
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]

    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    result = zxcvbn(password, user_inputs=[u for u in user_inputs if u])
    if result["score"] >= 3:
        return None
    feedback = result.get("feedback") or {}
    hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
    return "This password is too easy to guess." + (f" {hint}" if hint else "")


async def strength_problem(password: str, *, user_inputs: list[str] | None = None) -> str | None:
    """Why a new password is too weak (zxcvbn score below 3), or None when it is fine
    (in a worker thread)."""
    return await _in_thread(_strength_problem_blocking, password, list(user_inputs or []))
