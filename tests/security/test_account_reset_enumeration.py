"""Issue 15, item 3: a password reset must not say whether an email is registered.

An attacker asks for a reset of a registered email and of an unknown one, and types
six wrong codes for each. Every response (status, page, cookie) must be the same
byte for byte once the email itself is set aside, the number must appear nowhere,
and the same work must run for both: a reset verification with the same sends and
checks counted (the unknown email's is a decoy nobody can answer).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import httpx

from accounts.flows import decoy_number
from accounts.phones import mask
from tests.accounts.helpers import client, make_member, sent_verification

NEW_PASSWORD = "a brand new passphrase 42"


def _cookie_payload(http: httpx.AsyncClient) -> dict[str, object]:
    """What the signed (not encrypted) ks_pending cookie tells its holder."""
    token = http.cookies["ks_pending"]
    body = token.split(".")[0]
    compressed = body.startswith(".")
    assert not compressed
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


async def _attempt(
    base, db, email: str, target: str, wrong: str
) -> tuple[list[str], dict[str, object]]:
    """Start a reset for `email`, wait until its code went to `target` (as a person
    waits for the text), type six wrong codes and ask for the code again; every
    response, with the email replaced by a placeholder."""
    seen: list[str] = []
    async with client(base) as http:
        start = await http.post("/account/reset", data={"email": email})
        seen.append(f"{start.status_code} {start.headers.get('location')}")
        cookie = _cookie_payload(http)
        await sent_verification(db, target, "reset")
        page = await http.get("/account/reset/verify")
        seen.append(f"{page.status_code} {page.text}")
        for _ in range(6):
            answer = await http.post(
                "/account/reset/verify", data={"code": wrong, "password": NEW_PASSWORD}
            )
            seen.append(f"{answer.status_code} {answer.text}")
        again = await http.post("/account/reset/resend")
        seen.append(f"{again.status_code} {again.text}")
    return [s.replace(email, "<email>") for s in seen], {**cookie, "s": "<email>"}


async def _after_resend(db, target: str) -> dict[str, object]:
    """The reset verification of `target` once the re-send (delivered after its
    response) has landed."""
    for _ in range(400):
        row = await sent_verification(db, target, "reset")
        if row["send_count"] == 2:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"the code was not sent again to {target}")


async def test_known_and_unknown_emails_read_the_same_to_the_sixth_code(web, db):
    member = await make_member(db)
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.test"
    known_seen, known_cookie = await _attempt(web, db, member.email, member.mobile, "000000")
    unknown_seen, unknown_cookie = await _attempt(web, db, unknown, decoy_number(unknown), "000000")

    assert known_seen == unknown_seen
    assert known_cookie == unknown_cookie
    assert known_cookie.get("to") is None  # the number is not in the cookie
    page = "\n".join(known_seen)
    assert member.mobile not in page
    assert mask(member.mobile) not in page
    assert "+0" not in page
    # The wrong codes are refused, and then so is the requester, identically.
    assert known_seen[2].startswith("400 ") and "not right" in known_seen[2]
    assert "Too many wrong codes" in known_seen[7]

    # The same work ran: a reset verification each (the unknown one a decoy on a number
    # nobody owns, its code kept nowhere), sent twice, checked the same number of times.
    real = await _after_resend(db, member.mobile)
    decoy = await _after_resend(db, decoy_number(unknown))
    assert real["code_plain"] is not None and real["code_plain"] != "000000"
    assert decoy["code_plain"] is None
    for row in (real, decoy):
        row.pop("code_plain")
    assert real == decoy == {"send_count": 2, "check_count": 3, "status": "pending"}


async def test_the_dev_inbox_never_lists_a_decoy(web, db):
    unknown = f"ghost-{uuid.uuid4().hex[:10]}@example.test"
    async with client(web) as http:
        await http.post("/account/reset", data={"email": unknown})
        await sent_verification(db, decoy_number(unknown), "reset")
        inbox = await http.get("/account/dev-inbox")
    assert inbox.status_code == 200
    assert decoy_number(unknown) not in inbox.text
