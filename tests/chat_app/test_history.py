"""Chat history on our PostgreSQL: Chainlit's SQLAlchemy data layer on the `chat_ui`
tables that our migration owns, and the files (charts, CSVs) of a thread."""

import json
import uuid

from chainlit.context import init_http_context
from chainlit.element import Audio, File, Plotly
from chainlit.message import Message
from chainlit.step import Step
from chainlit.user import User
from sqlalchemy import text

from accounts.models import Role
from chat_app.history import ChatFiles, build_history
from tests.accounts.helpers import client, make_member, sign_in


async def _columns(db, table: str) -> set[str]:
    async with db.session() as s:
        rows = await s.execute(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'chat_ui' AND table_name = :t"
            ),
            {"t": table},
        )
        return {r[0] for r in rows}


def _chainlit_context() -> str:
    """A Chainlit HTTP context (as for a REST call) so steps and elements can be built."""
    tid = str(uuid.uuid4())
    init_http_context(thread_id=tid)
    return tid


async def test_step_message_and_element_keys_fit_the_columns(db):
    _chainlit_context()
    steps = await _columns(db, "steps")
    elements = await _columns(db, "elements")
    step = Step(name="check_credits", type="tool")
    message = Message(content="hello", author="Klosesales")
    assert set(step.to_dict()) <= steps, set(step.to_dict()) - steps
    assert set(message.to_dict()) <= steps, set(message.to_dict()) - steps
    for element in (
        File(name="calls.csv", content=b"a,b\n1,2\n", mime="text/csv"),
        Plotly(name="chart", figure=__import__("plotly.graph_objects").graph_objects.Figure()),
    ):
        assert set(element.to_dict()) <= elements, set(element.to_dict()) - elements


async def test_a_thread_with_its_messages_and_a_file_comes_back(db):
    thread_id = _chainlit_context()
    files = ChatFiles(db)
    history = build_history(db.url, files)
    try:
        email = f"rep-{uuid.uuid4().hex[:6]}@example.test"
        persisted = await history.create_user(User(identifier=email, metadata={"role": "rep"}))
        assert persisted is not None
        await history.update_thread(thread_id, name="Calls today", user_id=persisted.id)
        question = Message(content="connect rate by rep", author=email, type="user_message")
        answer = Message(content="Here is the chart.", author="Klosesales")
        tool = Step(name="analytics", type="tool", parent_id=answer.id)
        tool.input, tool.output = '{"metric": "connect_rate"}', "rep | rate"
        for step in (question, answer, tool):
            await history.create_step(step.to_dict())
        csv = File(name="calls.csv", content=b"rep,rate\nAna,0.5\n", mime="text/csv")
        csv.for_id = answer.id
        await history.create_element(csv)
        await history.update_thread(thread_id, metadata={"assistant_thread_id": "abc"})

        thread = await history.get_thread(thread_id)
        assert thread is not None and thread["userIdentifier"] == email
        assert thread["name"] == "Calls today"
        outputs = {s["name"]: s["output"] for s in thread["steps"]}
        assert outputs["analytics"] == "rep | rate" and "Here is the chart." in outputs.values()
        metadata = thread["metadata"]
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        assert metadata["assistant_thread_id"] == "abc"
        [element] = thread["elements"]
        assert element["url"].startswith("/chat-files/" + persisted.id)
        key = element["url"].removeprefix("/chat-files/")
        assert await files.read(key, email) == (b"rep,rate\nAna,0.5\n", "text/csv")
        assert await files.read(key, "someone-else@example.test") is None

        listed = await history.get_all_user_threads(user_id=persisted.id)
        assert [t["id"] for t in listed or []] == [thread_id]
        # Chainlit's `users` table is its own: ours is untouched.
        async with db.session() as s:
            ours = await s.scalar(
                text("SELECT count(*) FROM public.users WHERE email = :e"), {"e": email}
            )
        assert ours == 0
    finally:
        await history.engine.dispose()


async def test_chat_files_are_served_to_their_author_only(db, live_server):
    _chainlit_context()
    files = ChatFiles(db)
    history = build_history(db.url, files)
    author = await make_member(db, Role.REP)
    stranger = await make_member(db, Role.REP)
    try:
        persisted = await history.create_user(User(identifier=author.email, metadata={}))
        assert persisted is not None
        key = f"{persisted.id}/{uuid.uuid4()}/calls.csv"
        await files.upload_file(key, b"rep,rate\n", mime="text/csv")
    finally:
        await history.engine.dispose()
    async with client(live_server) as http:
        anonymous = await http.get(f"/chat-files/{key}")
        assert anonymous.status_code == 401
        await sign_in(http, db, author)
        mine = await http.get(f"/chat-files/{key}")
        assert mine.status_code == 200 and mine.content == b"rep,rate\n"
        assert mine.headers["content-type"].startswith("text/csv")
    async with client(live_server) as http:
        await sign_in(http, db, stranger)
        theirs = await http.get(f"/chat-files/{key}")
        assert theirs.status_code == 404 and b"rep,rate" not in theirs.content


async def test_a_recording_player_is_kept_as_the_apps_own_link(db):
    """The chat's recording player links to `/calls/<id>/recording` (served with the
    viewer's permission): the thread keeps that link, with no copy of the audio."""
    thread_id = _chainlit_context()
    history = build_history(db.url, ChatFiles(db))
    try:
        email = f"rep-{uuid.uuid4().hex[:6]}@example.test"
        persisted = await history.create_user(User(identifier=email, metadata={"role": "rep"}))
        assert persisted is not None
        await history.update_thread(thread_id, name="Last call", user_id=persisted.id)
        answer = Message(content="Here is the recording.", author="Klosesales")
        await history.create_step(answer.to_dict())
        link = f"/calls/{uuid.uuid4()}/recording"
        player = Audio(name="recording.wav", url=link, mime="audio/wav", display="inline")
        player.for_id = answer.id
        await history.create_element(player)

        thread = await history.get_thread(thread_id)
        assert thread is not None
        [element] = thread["elements"]
        assert element["url"] == link and element["type"] == "audio"
        assert element["forId"] == answer.id and not element.get("objectKey")
        async with db.session() as s:
            copies = await s.scalar(
                text("SELECT count(*) FROM chat_ui.files WHERE object_key LIKE :k"),
                {"k": f"{persisted.id}/%"},
            )
        assert copies == 0
    finally:
        await history.engine.dispose()
