"""The Docker image, replayed without Docker (docker cannot run on the build machine).

The Dockerfile and .dockerignore are read by tests/deploy/dockerfile.py: the build
context is filtered as Docker would, the COPY steps lay the image's files out under a
temporary root, and the RUN steps create the image's virtualenv and `uv pip install` the
copied app into it exactly as written (non-editable, with constraints.txt). The slow
test then starts the installed `klosesales` from the image's WORKDIR with the image's
ENV, against the test PostgreSQL, the way docker-compose.yml runs it: `migrate` once,
then `serve` and `worker`.
"""

from __future__ import annotations

import ast
import asyncio
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy.engine import URL

from core.db import Database
from tests.accounts.helpers import make_member, sign_in
from tests.conftest import empty_database
from tests.deploy.dockerfile import (
    DockerIgnore,
    Image,
    Replay,
    Unsupported,
    context_files,
    parse,
)
from tests.deploy.processes import (
    START_TIMEOUT_S,
    answers,
    base_env,
    free_port,
    printed,
    running,
    wait_until,
)

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]
# Top-level packages the app is made of (and imports); each must reach the image.
APP_PACKAGES = (
    "core",
    "accounts",
    "billing",
    "telephony",
    "retrieval",
    "insights",
    "tools",
    "chat_app",
)
# Files the install or the running app reads from the app folder.
APP_FILES = (
    "pyproject.toml",
    "constraints.txt",
    "README.md",
    "chainlit.md",
    ".chainlit/config.toml",
)
# Never in the image: local state, secrets, caches, version control, tests.
KEPT_OUT = (
    ".venv",
    ".data",
    ".git",
    ".files",
    ".env",
    "tests",
    "bench",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "klosesales.egg-info",
    ".chainlit/translations",
)
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INSTALL_TIMEOUT_S = 1800  # the install, bounded (uv: seconds; pip took 23 min wall under load)


def _image() -> Image:
    image = parse((REPO_ROOT / "Dockerfile").read_text())
    image.env.setdefault("PATH", BASE_PATH)
    return image


def _ignore() -> DockerIgnore:
    return DockerIgnore((REPO_ROOT / ".dockerignore").read_text())


def _first_party_imports(package_dir: Path, first_party: set[str]) -> set[str]:
    """Top-level first-party names imported anywhere under `package_dir`."""
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names & first_party


# --- the replay itself -----------------------------------------------------------------


def test_dockerignore_matches_like_docker():
    ignore = DockerIgnore(
        "# comment\n.git\n**/__pycache__\n*.log\n/build\ndocs/*.md\n!docs/keep.md\n"
    )
    assert ignore.excluded(".git/config")  # a folder rule covers what is under it
    assert ignore.excluded("core/sub/__pycache__/x.pyc")
    assert ignore.excluded("app.log")
    assert not ignore.excluded("core/app.log")  # `*` stays within one folder
    assert ignore.excluded("build/lib/x.py")
    assert ignore.excluded("docs/a.md")
    assert not ignore.excluded("docs/keep.md")  # the last matching rule wins
    assert not ignore.excluded("core/__init__.py")


def test_replay_refuses_what_it_cannot_replay():
    with pytest.raises(Unsupported):
        parse("FROM a AS build\nFROM b\n")
    with pytest.raises(Unsupported):
        parse("FROM a\nCOPY --from=build /x /y\n")
    with pytest.raises(Unsupported):
        parse("FROM a\nONBUILD RUN true\n")


# --- the Dockerfile's contract -----------------------------------------------------------


def test_image_runs_as_non_root_with_health_check_and_data_volume():
    image = _image()
    assert image.user not in {"", "root", "0", "0:0"}
    assert image.healthcheck is not None
    assert any("/healthz" in word for word in image.healthcheck)
    assert image.env["DATA_DIR"] in image.volumes
    assert image.env["CHAINLIT_APP_ROOT"] == image.workdir
    assert image.cmd[:2] == ["klosesales", "serve"]


def test_image_file_set_has_the_whole_app_and_nothing_local(tmp_path):
    image = _image()
    files = context_files(REPO_ROOT, _ignore())
    replay = Replay(image, REPO_ROOT, tmp_path / "root", files)
    for step in image.copies:
        replay.copy(step)
    app = replay.host(image.workdir)
    missing = [p for p in (*APP_PACKAGES, *APP_FILES) if not (app / p).exists()]
    assert missing == [], f"the image would lack {missing}"
    # Every first-party package the app's code imports is in the image too.
    first_party = {p.parent.name for p in REPO_ROOT.glob("*/__init__.py")}
    imported: set[str] = set()
    for package in APP_PACKAGES:
        imported |= _first_party_imports(app / package, first_party)
    imported.discard("tests")
    assert {name for name in imported if not (app / name).is_dir()} == set()
    # Every kind of data file the package ships (migrations' SQL, templates, the
    # embedding model...) reaches the image too.
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    for package, patterns in package_data.items():
        for pattern in patterns:
            if list((REPO_ROOT / package).glob(pattern)):
                assert list((app / package).glob(pattern)), f"{package}/{pattern} left out"
    leaked = [p for p in KEPT_OUT if (app / p).exists()]
    assert leaked == [], f"the image would contain {leaked}"
    assert not list(app.rglob("__pycache__"))


# --- the slow one: install, migrate, serve, worker ---------------------------------------


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A root folder for the replayed image, away from the repo (and its cwd)."""
    root = Path(tempfile.mkdtemp(prefix="klose-image-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _script_src(html: str) -> str:
    """The first local script the page loads (Chainlit's bundle)."""
    for chunk in html.split('src="')[1:]:
        src = chunk.split('"', 1)[0]
        if not src.startswith(("http://", "https://", "//")):
            return src
    raise AssertionError(f"no local script in the page: {html[:500]}")


async def _signed_in(base: str, url: URL) -> str:
    """A new member of the image's database, signed in (password, then the simulated
    code); returns their `ks_session` cookie."""
    db = Database(url=url, embedded=False)
    try:
        member = await make_member(db)
        async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as http:
            await sign_in(http, db, member)
            return str(http.cookies["ks_session"])
    finally:
        await db.dispose()


def _in_thread(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on an event loop of its own, in a thread (this test is
    synchronous; pytest-asyncio's loop is left alone)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result(timeout=START_TIMEOUT_S)


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT_S + 3 * START_TIMEOUT_S)
def _check_chat_page(base: str, url: URL) -> None:
    """/chat serves Chainlit's page (to a signed-in member) and its script bundle from
    the installed Chainlit."""
    session = _in_thread(_signed_in(base, url))
    with httpx.Client(
        base_url=base, cookies={"ks_session": session}, timeout=30, trust_env=False
    ) as http:
        chat = http.get("/chat/", headers={"Accept": "text/html"})
        assert chat.status_code == 200, chat.text[:500]
        assert '<div id="root">' in chat.text
        asset = http.get(chat.url.join(_script_src(chat.text)))
        assert asset.status_code == 200
        assert "javascript" in asset.headers["content-type"]


def _check_healthcheck(replay: Replay, image: Image, base: str, env: dict[str, str]) -> None:
    """The image's HEALTHCHECK command passes against the server at `base` and fails
    where nothing listens."""
    assert image.healthcheck is not None
    check = [
        replay.which(image.healthcheck[0], image.env),
        *(replay.host(w) if w.startswith("/") else w for w in image.healthcheck[1:-1]),
    ]
    ok = subprocess.run([*map(str, check), f"{base}/healthz"], env=env, timeout=30)
    assert ok.returncode == 0
    dead = f"http://127.0.0.1:{free_port()}/healthz"
    assert subprocess.run([*map(str, check), dead], env=env, timeout=30).returncode == 1


def test_image_installs_and_starts(image_root: Path, pg_server_url: str):
    image = _image()
    replay = Replay(image, REPO_ROOT, image_root, context_files(REPO_ROOT, _ignore()))
    # pip's cache is reused (the Dockerfile's is a BuildKit cache mount). Not compiling
    # .pyc files is the one difference from the image build; it installs the same files.
    env = {**base_env(), "PIP_NO_COMPILE": "1"}
    replay.build(env, timeout_s=INSTALL_TIMEOUT_S)  # venv + uv pip install, as written

    app_dir = replay.host(image.workdir)
    env = {**base_env(), **replay.host_env(image.env), "LOG_LEVEL": "WARNING"}
    assert Path(env["CHAINLIT_APP_ROOT"]) == app_dir
    # The image's user has a home of its own (useradd --create-home).
    home = image_root / "home" / image.user
    home.mkdir(parents=True)
    env["HOME"] = str(home)
    logs = image_root / "logs"
    logs.mkdir()
    klosesales = replay.which("klosesales", image.env)
    assert Path(klosesales).is_relative_to(image_root)

    with empty_database(pg_server_url, "klosesales_image") as url:
        env["DATABASE_URL"] = url.render_as_string(hide_password=False)
        # As the compose `migrate` service: a fresh database, migrated by the image.
        subprocess.run(
            [klosesales, "migrate"], cwd=app_dir, env=env, check=True, timeout=START_TIMEOUT_S
        )
        before = _snapshot(app_dir)

        # As a compose replica, on loopback instead of 0.0.0.0; and the worker beside it.
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv = [klosesales, *image.cmd[1:]]
        argv[argv.index("--host") + 1] = "127.0.0.1"
        argv[argv.index("--port") + 1] = str(port)
        serve_env = {
            **env,
            "PUBLIC_BASE_URL": base,
            "AUTO_MIGRATE": "false",
            "RUN_WORKER_IN_SERVE": "false",
        }
        serve_log, worker_log = logs / "serve.log", logs / "worker.log"
        with (
            running(argv, env=serve_env, log=serve_log, cwd=app_dir) as serve,
            running([klosesales, "worker"], env=env, log=worker_log, cwd=app_dir) as worker,
        ):
            wait_until(answers(f"{base}/healthz"), serve, serve_log, "serve")
            health = httpx.get(f"{base}/healthz", timeout=10).json()
            assert health["database"] == {**health["database"], "ok": True, "embedded": False}

            _check_chat_page(base, url)
            _check_healthcheck(replay, image, base, env)

            wait_until(printed(worker_log, "job worker is running"), worker, worker_log, "worker")

        # The running app wrote only where the image lets its user write.
        writable = [replay.host(path) for path, user in replay.owners.items() if user == image.user]
        changed = [
            path
            for path, mtime in _snapshot(app_dir).items()
            if before.get(path) != mtime and not any(Path(path).is_relative_to(w) for w in writable)
        ]
        assert changed == [], f"the app wrote outside its writable folders: {changed}"
        assert list(replay.host(image.env["DATA_DIR"]).iterdir()), "nothing in DATA_DIR"
