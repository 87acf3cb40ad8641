"""deploy/Caddyfile, run by Debian's Caddy (the release docker-compose.yml pins), in front
of two real `klosesales serve` processes on loopback ports.

The Caddyfile is used as is: Caddy fills its `{$NAME}` placeholders from the
environment, as the compose `lb` service does, with loopback upstreams here. Checked:
requests pass through; fresh clients are spread over both replicas while a client with
the sticky cookie stays on one (its socket.io session, which lives in one process only,
keeps working through the proxy); websockets upgrade for /chat's socket.io and reach
/voice/relay; X-Forwarded-* reach the upstream; /healthz answers through the proxy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from core.db import Database
from tests.accounts.helpers import make_member, sign_in
from tests.conftest import TWILIO_TEST_TOKEN
from tests.deploy.processes import answers, base_env, free_port, running, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = REPO_ROOT / "deploy" / "Caddyfile"
COOKIE = "klose_lb"  # the sticky cookie deploy/Caddyfile names
SOCKET_IO = "/chat/ws/socket.io/"
FRESH_CLIENTS = 40  # fresh clients tried before concluding one replica gets them all


def _caddy() -> str:
    """Debian's caddy; installed here (as scripts/test.sh does) when root and missing."""
    found = shutil.which("caddy")
    if found is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "caddy"],
            env=env,
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )
        found = shutil.which("caddy")
    if found is None:
        pytest.skip("caddy is not installed (apt-get install caddy) and we are not root")
    return found


@contextlib.contextmanager
def _run_caddy(upstreams: list[str], folder: Path, port: int | None = None) -> Iterator[str]:
    """Caddy on a loopback port (`port`, or a free one) with deploy/Caddyfile; yields the
    proxy's base URL once it answers /healthz (every upstream here serves it)."""
    port = port or free_port()
    home = folder / "caddy-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "LB_SITE": f":{port}",
        "LB_BIND": "127.0.0.1",
        "LB_UPSTREAMS": " ".join(upstreams),
        "LB_COOKIE_SECRET": "test-lb-secret",
    }
    log = folder / "caddy.log"
    argv = [_caddy(), "run", "--adapter", "caddyfile", "--config", str(CADDYFILE)]
    base = f"http://127.0.0.1:{port}"
    with running(argv, env=env, log=log) as proc:
        wait_until(answers(f"{base}/healthz"), proc, log, "caddy")
        yield base


@dataclass
class Fleet:
    proxy: str  # the load balancer, which is also every replica's PUBLIC_BASE_URL
    replicas: list[str]  # the replicas' own URLs (loopback)


@pytest.fixture(scope="module")
def fleet(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Two replicas set up as docker-compose.yml sets app1/app2 (worker off, no
    migration, shared secrets, PUBLIC_BASE_URL = the proxy), behind deploy/Caddyfile."""
    _caddy()  # install (or skip) before starting anything
    folder = tmp_path_factory.mktemp("fleet")
    proxy_port = free_port()
    shared = {
        **base_env(),
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{proxy_port}",
        "RUN_WORKER_IN_SERVE": "false",
        "AUTO_MIGRATE": "false",
        "SESSION_SECRET": "fleet-session-secret-" + "x" * 32,
        "CHAINLIT_AUTH_SECRET": "fleet-chainlit-secret-" + "y" * 32,
        "TWILIO_AUTH_TOKEN": TWILIO_TEST_TOKEN,
        # Every test request comes from 127.0.0.1: per-IP limits would trip.
        "RATE_LIMIT_IP_MULTIPLIER": "1000",
    }
    with contextlib.ExitStack() as stack:
        started = []
        for name in ("app1", "app2"):  # both start at once; then both are awaited
            data, port = folder / name, free_port()
            data.mkdir()
            argv = [sys.executable, "-m", "chat_app.cli", "serve", "--port", str(port)]
            env = {**shared, "DATA_DIR": str(data)}
            log = data / "serve.log"
            proc = stack.enter_context(running(argv, env=env, log=log, cwd=REPO_ROOT))
            started.append((f"http://127.0.0.1:{port}", proc, log))
        for url, proc, log in started:
            wait_until(answers(f"{url}/healthz"), proc, log, f"replica {url}")
        replicas = [url for url, _, _ in started]
        upstreams = [url.removeprefix("http://") for url in replicas]
        proxy = stack.enter_context(_run_caddy(upstreams, folder, proxy_port))
        yield Fleet(proxy, replicas)


async def _sign_in(fleet: Fleet, db: Database) -> str:
    """A new member signed in through the proxy (password, then the simulated code);
    returns their `ks_session` cookie. /chat, its socket.io included, needs one."""
    member = await make_member(db)
    async with httpx.AsyncClient(
        base_url=fleet.proxy, headers={"Origin": fleet.proxy}, timeout=30, trust_env=False
    ) as http:
        await sign_in(http, db, member)
        return str(http.cookies["ks_session"])


def _client(fleet: Fleet, session: str, base: str | None = None) -> httpx.Client:
    """A browser-like client of the proxy (or of `base`): it keeps cookies (the sticky
    one included), is signed in, and sends the page's Origin."""
    return httpx.Client(
        base_url=base or fleet.proxy,
        headers={"Origin": fleet.proxy},
        cookies={"ks_session": session},
        timeout=10,
        trust_env=False,
    )


def _handshake(client: httpx.Client) -> str:
    """Open an engine.io session with long polling; return its sid."""
    response = client.get(SOCKET_IO, params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 200, response.text
    assert response.text.startswith("0"), response.text
    return str(json.loads(response.text[1:])["sid"])


def _ping(client: httpx.Client, sid: str) -> int:
    """POST a harmless socket.io event on engine.io session `sid` (for a namespace it
    has not joined, so nothing runs): 200 only from the process holding the session,
    400 ("Invalid session") from any other."""
    params = {"EIO": "4", "transport": "polling", "sid": sid}
    return client.post(SOCKET_IO, params=params, content='42["sticky-probe"]').status_code


def _socketio_reply(ws: Any) -> str:
    """The next socket.io packet on an engine.io websocket, past NOOPs ("6")."""
    for _ in range(10):
        packet = ws.recv(timeout=10)
        if packet != "6":
            return str(packet)
    raise AssertionError("only NOOPs")


def _owner(fleet: Fleet, session: str, sid: str) -> str:
    """The one replica that holds engine.io session `sid`, asked directly."""
    owners = []
    for replica in fleet.replicas:
        with _client(fleet, session, base=replica) as direct:
            if _ping(direct, sid) == 200:
                owners.append(replica)
    assert len(owners) == 1, owners
    return owners[0]


def _ws(
    fleet: Fleet, path: str, cookies: dict[str, str], origin: str | None = None
) -> ClientConnection:
    """A websocket through the proxy, as a browser on the proxy's page opens it."""
    url = "ws://" + fleet.proxy.removeprefix("http://") + path
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return connect(
        url,
        origin=Origin(origin or fleet.proxy),
        additional_headers={"Cookie": cookie},
        proxy=None,
        open_timeout=10,
    )


async def test_requests_and_health_pass_through(fleet: Fleet, db: Database):
    session = await _sign_in(fleet, db)
    with _client(fleet, session) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["database"]["ok"] is True
        chat = client.get("/chat/", headers={"Accept": "text/html"})
        assert chat.status_code == 200
        assert '<div id="root">' in chat.text
        assert client.get("/").headers["location"].endswith("/chat")


async def test_fresh_clients_spread_and_a_client_sticks_to_its_replica(fleet: Fleet, db: Database):
    session = await _sign_in(fleet, db)
    cookies: set[str] = set()
    for _ in range(FRESH_CLIENTS):
        with _client(fleet, session) as client:
            assert client.get("/healthz").status_code == 200
            assert COOKIE in client.cookies, "the proxy set no sticky cookie"
            cookies.add(client.cookies[COOKIE])
        if len(cookies) == 2:
            break
    assert len(cookies) == 2, "every fresh client landed on the same replica"

    owners = set()
    for value in cookies:
        with _client(fleet, session) as client:
            client.cookies.set(COOKIE, value)
            sid = _handshake(client)
            owners.add(_owner(fleet, session, sid))
            # The session lives in one process only; with the cookie, every request
            # through the proxy reaches it.
            for _ in range(20):
                assert _ping(client, sid) == 200
            assert client.cookies[COOKIE] == value  # never re-assigned
    assert owners == set(fleet.replicas)  # the two cookies name the two replicas

    # Without the cookie the same session is not reachable every time: the stickiness
    # above is the cookie's doing, not a single-upstream accident.
    refused = 0
    for _ in range(FRESH_CLIENTS):
        with _client(fleet, session) as cookieless:
            refused += _ping(cookieless, sid) == 400
        if refused:
            break
    assert refused


async def test_websockets_upgrade_through_the_proxy(fleet: Fleet, db: Database):
    session = await _sign_in(fleet, db)
    with _client(fleet, session) as client:
        # What a browser does with polling first: a polling session, then its upgrade
        # to a websocket on the same sid, which only the replica holding it can accept.
        sid = _handshake(client)
        sticky = {"ks_session": session, COOKIE: client.cookies[COOKIE]}
    with _ws(fleet, f"{SOCKET_IO}?EIO=4&transport=websocket&sid={sid}", sticky) as ws:
        ws.send("2probe")
        assert ws.recv(timeout=10) == "3probe"
        ws.send("5")  # upgrade complete: the session now runs on this websocket
        # socket.io CONNECT, as Chainlit's client sends it: answered on this socket
        # (accepted, or refused for want of Chainlit's own token; either is an answer).
        hello = {"sessionId": str(uuid.uuid4()), "clientType": "webapp"}
        ws.send("40" + json.dumps(hello))
        assert _socketio_reply(ws).startswith(("40", "44"))

    # Websocket only, as Chainlit's client connects with the websocket transport.
    with _ws(fleet, f"{SOCKET_IO}?EIO=4&transport=websocket", {"ks_session": session}) as ws:
        opened = ws.recv(timeout=10)
        assert isinstance(opened, str) and opened.startswith("0")
        assert json.loads(opened[1:])["sid"]

    # Twilio's relay websocket reaches the app's handshake check: a bad token is
    # refused by the app with 403 (a proxy that did not upgrade would get a 404).
    with pytest.raises(InvalidStatus) as refused:
        _ws(fleet, f"/voice/relay?call={uuid.uuid4()}&token=bad", {})
    assert refused.value.response.status_code == 403


async def test_the_app_takes_its_origin_from_public_base_url(fleet: Fleet, db: Database):
    """Behind the proxy the page's Origin is the proxy's: the replicas accept it because
    PUBLIC_BASE_URL names it, and refuse a replica's own address as a foreign origin."""
    session = {"ks_session": await _sign_in(fleet, db)}
    path = f"{SOCKET_IO}?EIO=4&transport=websocket"
    with _ws(fleet, path, session) as ws:
        assert str(ws.recv(timeout=10)).startswith("0")
    with pytest.raises(InvalidStatus) as refused:
        _ws(fleet, path, session, origin=fleet.replicas[0])
    assert refused.value.response.status_code == 403


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with the headers it received, as JSON."""

    def do_GET(self) -> None:
        body = json.dumps(dict(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_forwarded_headers_reach_the_upstream(tmp_path: Path):
    _caddy()
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=echo.serve_forever, daemon=True)
    thread.start()
    try:
        upstream = f"127.0.0.1:{echo.server_address[1]}"
        with _run_caddy([upstream], tmp_path) as proxy:
            host = proxy.removeprefix("http://")
            seen = httpx.get(f"{proxy}/chat/", timeout=10, trust_env=False).json()
    finally:
        echo.shutdown()
        echo.server_close()
        thread.join(timeout=10)
    headers = {k.lower(): v for k, v in seen.items()}
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == host
    assert headers["host"] == host  # the client's Host is passed through unchanged
