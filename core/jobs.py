"""The job queue: procrastinate on the same PostgreSQL.

Domains declare their tasks on a `procrastinate.Blueprint`; the application wires
the blueprints into one `App` bound to the database (`make_job_app`). The worker
runs inside `klosesales serve` by default, or alone with `klosesales worker`.
"""

from __future__ import annotations

from collections.abc import Iterable

import procrastinate


def make_job_app(
    conninfo: str, blueprints: Iterable[tuple[str, procrastinate.Blueprint]]
) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4)
    )
    for namespace, blueprint in blueprints:
        app.add_tasks_from(blueprint, namespace=namespace)
    return app
