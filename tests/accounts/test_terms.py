"""Versioned terms: notice rules, what is current and upcoming, acceptance records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from accounts import audit, terms
from accounts.models import TermsAcceptance, TermsVersion
from core.errors import NotFound
from tests.accounts.helpers import make_member

NOW = datetime.now(UTC)


def _version() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def test_a_material_change_needs_seven_days_notice(session):
    with pytest.raises(terms.TermsError, match="7 days"):
        await terms.publish(
            session,
            "# New",
            version=_version(),
            effective_at=NOW + timedelta(days=6),
            material=True,
            published_by="test",
        )
    await session.rollback()


async def test_the_database_refuses_short_notice_for_material_changes(session):
    with pytest.raises(Exception, match="ck_terms_versions_material_notice"):
        await session.execute(
            text(
                "INSERT INTO terms_versions (version, effective_at, material, body_md,"
                " published_by) VALUES (:v, now() + interval '1 day', true, 'x', 'x')"
            ),
            {"v": _version()},
        )
    await session.rollback()


@pytest.mark.parametrize(
    ("body", "effective", "message"),
    [
        ("   ", NOW + timedelta(days=10), "empty"),
        ("# ok", NOW - timedelta(days=1), "past"),
    ],
)
async def test_bad_versions_are_refused(session, body, effective, message):
    with pytest.raises(terms.TermsError, match=message):
        await terms.publish(
            session,
            body,
            version=_version(),
            effective_at=effective,
            material=False,
            published_by="test",
        )
    await session.rollback()


async def test_upcoming_is_shown_before_it_takes_effect_then_must_be_accepted(db):
    member = await make_member(db)
    now = datetime.now(UTC)  # after the database was set up: its terms are in force
    version = _version()
    async with db.session() as session:
        row = await terms.publish(
            session,
            "# Terms v2\n\n<script>alert(1)</script> **bold**",
            version=version,
            effective_at=now + timedelta(days=8),
            material=True,
            published_by="test",
        )
        await session.commit()
        upcoming = await terms.upcoming(session, now=now)
        assert upcoming is not None
        assert upcoming.effective_at <= row.effective_at
        # Not in force yet: nobody has to accept it.
        assert await terms.needs_acceptance(session, member.actor.user_id, now=now) is None
        later = now + timedelta(days=9)
        due = await terms.needs_acceptance(session, member.actor.user_id, now=later)
        assert due is not None
        assert due.version == version
        await terms.accept(
            session,
            user_id=member.actor.user_id,
            terms_version_id=due.id,
            ip="203.0.113.7",
            user_agent="pytest",
        )
        await terms.accept(
            session,
            user_id=member.actor.user_id,
            terms_version_id=due.id,
            ip="198.51.100.1",
            user_agent="pytest",
        )
        await session.commit()
        assert await terms.needs_acceptance(session, member.actor.user_id, now=later) is None
        rows = (
            await session.scalars(
                select(TermsAcceptance).where(
                    TermsAcceptance.user_id == member.actor.user_id,
                    TermsAcceptance.terms_version_id == due.id,
                )
            )
        ).all()
        assert [(r.ip, r.user_agent) for r in rows] == [("203.0.113.7", "pytest")]
        html = terms.render_html(row)
        assert "<script>" not in html
        assert "<strong>bold</strong>" in html
        # Keep the shared database's "upcoming" to what other tests expect.
        await session.execute(
            text("UPDATE terms_versions SET effective_at = '2099-01-01' WHERE version = :v"),
            {"v": version},
        )
        await session.commit()


async def test_acceptances_are_append_only(db):
    member = await make_member(db)
    async with db.session() as session:
        with pytest.raises(Exception, match="append-only"):
            await session.execute(
                text("DELETE FROM terms_acceptances WHERE user_id = :u"),
                {"u": member.actor.user_id},
            )
        await session.rollback()


async def test_current_is_the_latest_in_force(session):
    current = await terms.current(session)
    assert current.effective_at <= datetime.now(UTC)
    newer = await session.scalar(
        select(TermsVersion).where(
            TermsVersion.effective_at > current.effective_at,
            TermsVersion.effective_at <= datetime.now(UTC),
        )
    )
    assert newer is None


async def test_publish_records_the_version_and_audits_it(session):
    """Uncommitted: a far-future version, flushed (so the database CHECK runs), rolled back."""
    version = _version()
    at = datetime(2031, 3, 4, 15, 30, tzinfo=UTC)
    row = await terms.publish(
        session,
        "# v\n",
        version=version,
        effective_at=at + timedelta(days=7),
        material=True,
        published_by="legal@test",
        now=at,
    )
    assert (row.version, row.material, row.published_at) == (version, True, at)
    (event,) = await audit.list_events(session, action=audit.TERMS_PUBLISHED, limit=1)
    assert (event.target, event.actor_label) == (version, "legal@test")
    assert event.detail["material"] is True
    assert await terms.upcoming(session, now=at) == row
    assert await terms.current(session, now=at + timedelta(days=7)) == row
    assert (await terms.current(session, now=at)).version != version
    with pytest.raises(terms.TermsError, match="already exists"):
        await terms.publish(
            session,
            "# again\n",
            version=version,
            effective_at=at + timedelta(days=30),
            material=False,
            published_by="legal@test",
            now=at,
        )
    with pytest.raises(terms.TermsError, match="already takes effect"):
        await terms.publish(
            session,
            "# same moment\n",
            version=_version(),
            effective_at=row.effective_at,
            material=False,
            published_by="legal@test",
            now=at,
        )
    await session.rollback()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version": "has space"}, "letters, digits"),
        ({"version": ""}, "letters, digits"),
        ({"published_by": "  "}, "who publishes"),
        ({"effective_at": datetime(2031, 1, 1)}, "time zone"),
        ({"material": True, "effective_at": NOW + timedelta(days=6, hours=23)}, "7 days"),
    ],
)
async def test_more_bad_input_is_refused(session, kwargs, message):
    args = {
        "version": _version(),
        "effective_at": NOW + timedelta(days=400),
        "material": False,
        "published_by": "test",
        **kwargs,
    }
    with pytest.raises(terms.TermsError, match=message):
        await terms.publish(session, "# body", **args)
    await session.rollback()


def test_earliest_material_date_is_a_whole_day_at_least_seven_days_out():
    assert terms.earliest_material_date(datetime(2026, 11, 28, 13, 30, tzinfo=UTC)) == datetime(
        2026, 12, 6, tzinfo=UTC
    )
    assert terms.earliest_material_date(datetime(2026, 11, 28, tzinfo=UTC)) == datetime(
        2026, 12, 5, tzinfo=UTC
    )


async def test_accept_returns_the_first_record_and_refuses_unknowns(db):
    member = await make_member(db, accept_terms=False)
    async with db.session() as session:
        due = await terms.needs_acceptance(session, member.actor.user_id)
        assert due is not None
        first = await terms.accept(
            session,
            user_id=member.actor.user_id,
            terms_version_id=due.id,
            ip="192.0.2.1",
            user_agent="first",
        )
        again = await terms.accept(
            session,
            user_id=member.actor.user_id,
            terms_version_id=due.id,
            ip="192.0.2.2",
            user_agent="second",
        )
        assert (again.id, again.ip, again.user_agent) == (first.id, "192.0.2.1", "first")
        await session.commit()
        assert await terms.needs_acceptance(session, member.actor.user_id) is None
        events = await audit.list_events(
            session, workspace_id=member.actor.workspace_id, action=audit.TERMS_ACCEPTED
        )
        assert [(e.actor_id, e.ip, e.target) for e in events] == [
            (member.actor.user_id, "192.0.2.1", due.version)
        ]
        with pytest.raises(NotFound):
            await terms.accept(
                session,
                user_id=member.actor.user_id,
                terms_version_id=2_000_000_000,
                ip=None,
                user_agent=None,
            )
        with pytest.raises(NotFound):
            await terms.accept(
                session, user_id=uuid.uuid4(), terms_version_id=due.id, ip=None, user_agent=None
            )


def test_render_html_escapes_raw_html_and_unsafe_links():
    row = TermsVersion(
        version="x",
        body_md=(
            "# Title\n\n<img src=x onerror=alert(1)>\n\n"
            "[click](javascript:alert(1)) and [site](https://example.test)\n\n"
            "| a | b |\n| - | - |\n| 1 | 2 |\n"
        ),
    )
    html = terms.render_html(row)
    assert "<h1>Title</h1>" in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html  # left as plain text, never a link
    assert '<a href="https://example.test">site</a>' in html
    assert "<table>" in html
