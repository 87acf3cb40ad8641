"""Retrieval's job: index a call's transcript once it has ended (queued after the call).

After indexing, the call's workspace is checked against the tenant-index threshold:
the first time it passes, its own HNSW and GIN indexes are built (concurrently) in the
same job (and an HNSW index built with older settings is rebuilt).
"""

from __future__ import annotations

import logging
import uuid

import procrastinate

from core.db import Database
from core.errors import NotFound
from retrieval.embeddings import Embedder
from retrieval.indexing import TENANT_INDEX_ROWS, ensure_tenant_index, index_call

log = logging.getLogger(__name__)

INDEX_TASK = "index_call"


def register(
    db: Database, embedder: Embedder, *, tenant_index_rows: int = TENANT_INDEX_ROWS
) -> procrastinate.Blueprint:
    """Retrieval's tasks bound to a database and embedder, as a blueprint for the job app.

    `index_call(call_id=...)` (queue "retrieval") replaces one call's chunks; a call that
    does not exist is logged and dropped, not retried.
    """
    blueprint = procrastinate.Blueprint()

    @blueprint.task(
        name=INDEX_TASK,
        queue="retrieval",
        pass_context=False,
        retry=procrastinate.RetryStrategy(max_attempts=3, wait=30),
    )
    async def index_call_task(call_id: str) -> None:
        try:
            indexed = await index_call(db, uuid.UUID(call_id), embedder)
        except (NotFound, ValueError):
            log.warning("no call %r to index", call_id)
            return
        await ensure_tenant_index(db, indexed.workspace_id, threshold=tenant_index_rows)

    return blueprint
