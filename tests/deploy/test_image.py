"""The Docker image, replayed without Docker (docker cannot run on the build machine).

The Dockerfile and .dockerignore are read by tests/deploy/dockerfile.py: the build
context is filtered as Docker would, the COPY steps lay the image's files out under a
temporary root, and the RUN steps create the image's virtualenv and `pip install` the
copied app into it exactly as written (non-editable, with constraints.txt). The slow
test then starts the installed `klosesales` from the image's WORKDIR with the image's
ENV, against the test PostgreSQL, the way docker-compose.yml runs it: `migrate` once,
then `serve` and `worker`.
"""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import empty_database
from tests.deploy.dockerfile import (
    DockerIgnore,
    Image,
    Replay,
    Unsupported,
    context_files,
    parse,
)

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
KEPT_OUT = (".venv", ".data", ".git", ".files", ".env", "tests", "bench", ".pytest_cache",
            ".mypy_cache", ".ruff_cache", "klosesales.egg-info",
            ".chainlit/translations")  # fmt: skip
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INSTALL_TIMEOUT_S = 300  # the whole pip install, bounded
START_TIMEOUT_S = 90  # `serve` answering /healthz, bounded


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
    leaked = [p for p in KEPT_OUT if (app / p).exists()]
    assert leaked == [], f"the image would contain {leaked}"
    assert not list(app.rglob("__pycache__"))


# --- the slow one: install, migrate, serve, worker ---------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """The test's environment without anything pointing at the repo's virtualenv."""
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DATABASE_URL",
                 "OPENAI_API_KEY", "PADDLE_API_KEY", "PADDLE_WEBHOOK_SECRET"):  # fmt: skip
        env.pop(name, None)
    return env


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


@contextlib.contextmanager
def _process(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{base}/healthz", timeout=3)
            if response.status_code == 200:
                return response
        if proc.poll() is not None:
            pytest.fail(f"serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"serve did not answer /healthz:\n{log.read_text()[-3000:]}")


def _wait_for_line(path: Path, text: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"exited {proc.returncode}:\n{path.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"never printed {text!r}:\n{path.read_text()[-3000:]}")


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A root folder for the replayed image, away from the repo (and its cwd)."""
    root = Path(tempfile.mkdtemp(prefix="klose-image-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT_S + 4 * START_TIMEOUT_S)
def test_image_installs_and_starts(image_root: Path, pg_server_url: str):
    image = _image()
    replay = Replay(image, REPO_ROOT, image_root, context_files(REPO_ROOT, _ignore()))
    base_env = _clean_env()
    replay.build(base_env, timeout_s=INSTALL_TIMEOUT_S)  # venv + pip install, as written

    app_dir = replay.host(image.workdir)
    env = {**base_env, **replay.host_env(image.env)}
    assert Path(env["CHAINLIT_APP_ROOT"]) == app_dir
    # The image's user has a home of its own (useradd --create-home).
    home = image_root / "home" / image.user
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    logs = image_root / "logs"
    logs.mkdir()

    with empty_database(pg_server_url, "klosesales_image") as url:
        env["DATABASE_URL"] = url.render_as_string(hide_password=False)
        env["LOG_LEVEL"] = "WARNING"
        klosesales = replay.which("klosesales", image.env)
        assert Path(klosesales).is_relative_to(image_root)
        # As the compose `migrate` service: a fresh database, migrated by the image.
        subprocess.run(
            [klosesales, "migrate"], cwd=app_dir, env=env, check=True, timeout=START_TIMEOUT_S
        )
        before = _snapshot(app_dir)

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        serve_env = {**env, "PUBLIC_BASE_URL": base, "AUTO_MIGRATE": "false",
                     "RUN_WORKER_IN_SERVE": "false"}  # fmt: skip
        argv = [klosesales, *image.cmd[1:]]
        argv[argv.index("--host") + 1] = "127.0.0.1"  # loopback only, never 0.0.0.0
        argv[argv.index("--port") + 1] = str(port)
        serve_log, worker_log = logs / "serve.log", logs / "worker.log"
        with (
            _process(argv, app_dir, serve_env, serve_log) as serve,
            _process([klosesales, "worker"], app_dir, env, worker_log) as worker,
        ):
            health = _wait_healthy(base, serve, serve_log).json()
            assert health["database"]["ok"] is True
            assert health["database"]["embedded"] is False

            chat = httpx.get(f"{base}/chat/", timeout=10, follow_redirects=True)
            assert chat.status_code == 200, chat.text[:500]
            assert '<div id="root">' in chat.text
            # The page's script bundle comes from the installed Chainlit.
            script = chat.text.split('src="', 2)[1].split('"', 1)[0] if 'src="' in chat.text else ""
            assert script, chat.text[:500]
            asset = httpx.get(httpx.URL(str(chat.url)).join(script), timeout=10)
            assert asset.status_code == 200

            # The image's HEALTHCHECK command, pointed at this server, passes; and fails
            # where nothing listens.
            check = [replay.which(image.healthcheck[0], image.env),
                     str(replay.host(image.healthcheck[1]))]  # fmt: skip
            assert subprocess.run([*check, f"{base}/healthz"], env=env, timeout=30).returncode == 0
            dead = f"http://127.0.0.1:{_free_port()}/healthz"
            assert subprocess.run([*check, dead], env=env, timeout=30).returncode == 1

            _wait_for_line(worker_log, "job worker is running", worker)

        # The running app wrote only where the image lets its user write.
        writable = [
            replay.host(path) for path in replay.owners if replay.owners[path] == image.user
        ]
        changed = [
            path
            for path, mtime in _snapshot(app_dir).items()
            if before.get(path) != mtime and not any(Path(path).is_relative_to(w) for w in writable)
        ]
        assert changed == [], f"the app wrote outside its writable folders: {changed}"
        assert list((replay.host(image.env["DATA_DIR"])).iterdir()), "no data in DATA_DIR"
