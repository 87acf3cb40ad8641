"""`klosesales ask` starts fast (issue 17, item 6): what a cold process answering a
simple question imports and computes. No timing is asserted (the machine is shared):
the tests pin what must not be loaded or done on the way, and bench/ask_cold.py
measures the wall time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from core import migrate
from core.db import Database
from tests.chat_app.helpers import funded_rep

ROOT = Path(__file__).resolve().parents[2]

# Each costs from a tenth of a second to a second to import, and a simple answer in the
# CLI needs none of them: the web app and its framework (the simulated carrier's
# recording store is a FastAPI router), the job queue (the server's post-call work),
# Alembic (the schema is checked with one query), the sign-up flows' e-mail validator
# and the terms' Markdown renderer, the embedded PostgreSQL (DATABASE_URL is set), the
# sentence model's runtime, the OpenAI client.
HEAVY = (
    "chainlit",
    "langchain_openai",
    "openai",
    "onnxruntime",
    "phonenumbers.geocoder",
    "dateparser",
    "sklearn",
    "fastapi",
    "starlette",
    "uvicorn",
    "alembic",
    "procrastinate",
    "email_validator",
    "markdown_it",
    "pgserver",
    "aiohttp",
)

_SCRIPT = """
import sys, datetime
import chat_app.cli, chat_app.runtime, chat_app.turns, chat_app.agent, accounts.service
from accounts import passwords
from chat_app.llm.offline_router import route
from chat_app.agent import TOOLS
from core import migrate
from sqlalchemy.engine import make_url
migrate.head_revision(make_url("postgresql+psycopg://nobody@/nothing"))
found = route("how many credits do I have?", frozenset(t.name for t in TOOLS),
              today=datetime.date(2026, 11, 29))
assert found.intent.tool == "check_credits", found
print(sorted(m for m in {heavy!r} if m in sys.modules))
print(passwords._dummy_hash.cache_info().currsize)
"""


def test_a_simple_question_loads_no_heavy_module():
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(heavy=HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded, hashed = done.stdout.split("\n")[:2]
    assert loaded == "[]", f"imported on the way to a simple answer: {loaded}"
    assert hashed == "0", "the timing-equaliser argon2 hash was made without a sign-in"


def test_the_head_revision_read_from_the_files_is_alembics():
    from alembic.script import ScriptDirectory

    url = make_url("postgresql+psycopg://nobody@/nothing")
    alembic = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    assert migrate.head_revision(url) == alembic
    assert migrate._head_from_files() == alembic  # the quick path, not the fallback


def test_tools_keep_their_schemas_and_their_injected_runtime():
    """Tools are built without pydantic modelling the agent context, yet the model sees
    the same arguments and the runtime is still injected (a tool without arguments
    too)."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from chat_app.agent import TOOLS

    by_name = {t.name: t for t in TOOLS}
    for tool in TOOLS:
        shown = convert_to_openai_tool(tool)["function"]["parameters"]
        assert "runtime" not in shown.get("properties", {}), tool.name
        assert "runtime" in tool._injected_args_keys, tool.name
        assert "runtime" in tool.args_schema.model_fields, tool.name  # kept for injection
    place = convert_to_openai_tool(by_name["place_call"])["function"]["parameters"]
    assert {"contact", "purpose"} <= set(place["properties"]), place


# The whole `klosesales ask` command, as a shell runs it: the database opened and its
# schema checked, the providers (simulated carrier, checkout, Verify) and the agent
# built, the question answered; then what it had imported.
_ASK = """
import sys
from chat_app.cli import cli
sys.argv = ["klosesales", "ask", "how many credits do I have?", "--user", sys.argv[1], "--json"]
try:
    cli()
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""


def _cold_ask(database: Database, data_dir: Path, email: str) -> tuple[dict[str, object], str]:
    """(the `--json` answer, the heavy modules it imported) of one `ask` process."""
    env = {
        **os.environ,
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
    }
    for name in ("OPENAI_API_KEY", "TWILIO_AUTH_TOKEN", "PADDLE_WEBHOOK_SECRET"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", _ASK.format(heavy=HEAVY), email],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer, loaded = done.stdout.strip().splitlines()[-2:]
    return json.loads(answer), loaded


async def test_a_cold_ask_command_answers_without_heavy_modules(
    db: Database, database: Database, tmp_path: Path
) -> None:
    actor = await funded_rep(db, 10_000)
    answer, loaded = _cold_ask(database, tmp_path, actor.email)
    assert answer["tool_calls"] == [{"name": "check_credits", "args": {}}], answer
    assert answer["status"] == "answered" and answer["cost_mc"] == 0, answer
    assert str(answer["answer"]).startswith("Balance: 10 credits"), answer
    assert loaded == "[]", f"imported by a cold `klosesales ask`: {loaded}"
