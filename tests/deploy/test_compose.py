"""docker-compose.yml's fleet, read as Compose would merge it (YAML anchors and `<<`).

Compose cannot run here, so these check the file's contract with the app: one migration
runner, replicas without an in-process worker when a worker service runs, a shared
PUBLIC_BASE_URL and shared secrets, the load balancer on the repo's Caddyfile and on
the Caddy release the load-balancer tests run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from core.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def _services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return dict(compose["services"])


def _command(service: dict[str, Any]) -> list[str]:
    return list(service.get("command") or ["klosesales", "serve"])


def _settings(service: dict[str, Any]) -> Settings:
    """The app's settings as this service's environment gives them (placeholders stay
    unexpanded; only the names and literal values matter here)."""
    env = {k.lower(): str(v) for k, v in service.get("environment", {}).items()}
    keys = set(Settings.model_fields)
    return Settings.model_validate({k: v for k, v in env.items() if k in keys and "$" not in v})


def _app_services() -> dict[str, dict[str, Any]]:
    return {
        name: s for name, s in _services().items() if s.get("image", "").startswith("klosesales")
    }


def test_database_is_postgres_with_pgvector():
    assert _services()["db"]["image"] == "pgvector/pgvector:pg16"


def test_two_replicas_one_worker_one_migration():
    apps = _app_services()
    replicas = {n: s for n, s in apps.items() if _command(s)[:2] == ["klosesales", "serve"]}
    workers = [n for n, s in apps.items() if _command(s) == ["klosesales", "worker"]]
    migrators = [n for n, s in apps.items() if _command(s) == ["klosesales", "migrate"]]
    assert len(replicas) == 2
    assert len(workers) == 1
    # A worker service runs the jobs: no replica runs a second worker inside `serve`.
    assert all(not _settings(s).run_worker_in_serve for s in replicas.values())
    # Migrations run once: by a one-shot service (which every app waits for) or by
    # exactly one replica.
    auto = [n for n, s in replicas.items() if _settings(s).auto_migrate]
    assert (len(migrators), len(auto)) in {(1, 0), (0, 1)}
    for name, service in apps.items():
        if name not in migrators and migrators:
            waits = service["depends_on"][migrators[0]]["condition"]
            assert waits == "service_completed_successfully", name
        if name in migrators:
            assert service.get("restart") == "no"


def test_replicas_share_public_url_secrets_and_data():
    apps = _app_services()
    for name in ("PUBLIC_BASE_URL", "SESSION_SECRET", "CHAINLIT_AUTH_SECRET", "DATABASE_URL"):
        values = {s["environment"].get(name) for s in apps.values()}
        assert len(values) == 1 and None not in values, name
    volumes = {tuple(s.get("volumes", [])) for s in apps.values()}
    assert len(volumes) == 1 and any(v.endswith(":/app/.data") for v in volumes.pop())
    # Replicas are reached only through the load balancer, which sets X-Forwarded-*.
    assert all("ports" not in s for s in apps.values())


def test_load_balancer_runs_the_repo_caddyfile_on_the_tested_release():
    lb = _services()["lb"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in lb["volumes"]
    upstreams = lb["environment"]["LB_UPSTREAMS"].split()
    replicas = [n for n, s in _app_services().items() if _command(s)[:2] == ["klosesales", "serve"]]
    assert sorted(u.split(":")[0] for u in upstreams) == sorted(replicas)
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed (scripts/test.sh installs it)")
    version = subprocess.run([caddy, "version"], capture_output=True, text=True, check=True)
    assert lb["image"] == "caddy:" + version.stdout.split()[0].lstrip("v")
