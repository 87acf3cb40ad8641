"""A CSV attached in chat reaches the turn's tools (chat_app/uploads.py →
tools.attachments), read only from Chainlit's own upload folder; a CSV sent with no
text asks for it to be imported."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

from chat_app import uploads
from tools import attachments


def test_only_files_under_the_upload_folder_are_read(tmp_path) -> None:
    root = uploads.files_root()
    session = root / f"test-{uuid.uuid4().hex}"
    session.mkdir(parents=True)
    inside = session / "leads.csv"
    inside.write_bytes(b"name,phone\nAna,+14155550100\n")
    outside = tmp_path / "secret.csv"
    outside.write_bytes(b"not yours")
    try:
        files = uploads.read_attachments(
            [
                SimpleNamespace(path=str(inside), name="leads.csv", mime="text/csv"),
                SimpleNamespace(path=str(outside), name="secret.csv", mime="text/csv"),
                SimpleNamespace(path=str(session / ".." / ".." / "etc"), name="x", mime=""),
            ]
        )
    finally:
        inside.unlink()
        session.rmdir()
    assert files == (
        attachments.Attachment("leads.csv", "text/csv", b"name,phone\nAna,+14155550100\n"),
    )


def test_a_csv_alone_asks_for_an_import() -> None:
    csv = (attachments.Attachment("a.csv", "text/csv", b"name,phone\n"),)
    assert uploads.request_text("", csv) == uploads.IMPORT_REQUEST
    assert uploads.request_text("  ", csv) == uploads.IMPORT_REQUEST
    assert uploads.request_text("import these", csv) == "import these"
    assert uploads.request_text("", ()) == ""


def test_an_attachment_belongs_to_its_own_turn_only() -> None:
    mine = (attachments.Attachment("mine.csv", "text/csv", b"x"),)

    async def turn() -> tuple[tuple[attachments.Attachment, ...], ...]:
        async def other() -> tuple[attachments.Attachment, ...]:
            return attachments.current()  # another user's turn, started elsewhere

        other_task = asyncio.get_running_loop().create_task(other())
        with attachments.attached(mine):
            seen = attachments.current()
            child = await asyncio.create_task(asyncio.sleep(0, attachments.current()))
        return seen, child, await other_task, attachments.current()

    seen, child, other, after = asyncio.run(turn())
    assert seen == mine and child == mine  # the turn's tools see it
    assert other == () and after == ()  # nobody else, and not after the turn
