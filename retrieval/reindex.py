"""Re-chunking calls indexed before one turn became one chunk.

Calls indexed by the older chunker hold chunks that span several turns (a window of
consecutive turns, the agent's opening and disclosure among them): a hit on one of them
cannot point at the words that matched, and boilerplate is searchable again.
`reindex_stale_calls` finds such calls and re-indexes each through
`retrieval.indexing.index_call` (which replaces a call's chunks in one transaction), a
batch at a time:

* idempotent: a call is stale only while one of its chunks spans more than one segment
  or speaker; once re-indexed it no longer is, so a second run finds nothing to do;
* resumable: calls are taken in `call_id` order after a cursor; a run stopped part way
  (killed, `max_calls` reached) leaves the calls already done in the new form, and the
  next run starts again from the first stale call (or from `after`, if given);
* batched: `batch_size` call ids are read per query (by the `(call_id, seq)` index), and
  each call is embedded and written on its own, so no transaction spans a batch.

`everything=True` re-indexes every call that has chunks (after a change to what
`retrieval.boilerplate` leaves out, say): resumable by `after` (the last call id done,
which each progress report gives), not idempotent by construction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text

from core.db import Database
from core.errors import NotFound
from retrieval.embeddings import Embedder
from retrieval.indexing import index_call

log = logging.getLogger(__name__)

BATCH_SIZE = 100

# Calls with chunks, in call id order after a cursor; `_STALE` only those with a chunk
# spanning several turns (or speakers): the old form.
_CALLS = (
    "SELECT DISTINCT t.call_id FROM transcript_chunks t"
    " WHERE (CAST(:after AS uuid) IS NULL OR t.call_id > CAST(:after AS uuid)){stale}"
    " ORDER BY t.call_id LIMIT :n"
)
_ALL = _CALLS.format(stale="")
_STALE = _CALLS.format(
    stale=" AND (t.first_segment <> t.last_segment OR cardinality(t.speakers) <> 1)"
)


@dataclass
class ReindexReport:
    """What a run did: calls re-indexed, calls that vanished meanwhile, the last call
    id handled (pass it as `after` to resume), chunks written."""

    reindexed: int = 0
    missing: int = 0
    chunks: int = 0
    last_call_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "reindexed": self.reindexed,
            "missing": self.missing,
            "chunks": self.chunks,
            "last_call_id": None if self.last_call_id is None else str(self.last_call_id),
        }


async def stale_calls(
    db: Database,
    *,
    after: uuid.UUID | None = None,
    limit: int = BATCH_SIZE,
    everything: bool = False,
) -> list[uuid.UUID]:
    """Up to `limit` call ids (ascending, after `after`) whose chunks are in the old,
    several-turns-a-chunk form (any call with chunks when `everything`)."""
    if limit < 1:
        raise ValueError("a batch needs at least one call")
    async with db.session() as session:
        rows = await session.scalars(
            text(_ALL if everything else _STALE),
            {"after": None if after is None else str(after), "n": limit},
        )
        return list(rows.all())


async def reindex_stale_calls(
    db: Database,
    embedder: Embedder,
    *,
    batch_size: int = BATCH_SIZE,
    max_calls: int | None = None,
    after: uuid.UUID | None = None,
    everything: bool = False,
    progress: Callable[[ReindexReport], None] | None = None,
) -> ReindexReport:
    """Re-index the stale calls (see the module's docstring), `batch_size` at a time, at
    most `max_calls` of them; `progress` is called after each batch."""
    if max_calls is not None and max_calls < 0:
        raise ValueError("max_calls cannot be negative")
    report = ReindexReport()
    cursor = after
    while max_calls is None or report.reindexed + report.missing < max_calls:
        done = report.reindexed + report.missing
        room = batch_size if max_calls is None else min(batch_size, max_calls - done)
        batch = await stale_calls(db, after=cursor, limit=room, everything=everything)
        if not batch:
            break
        for call_id in batch:
            try:
                indexed = await index_call(db, call_id, embedder)
            except NotFound:  # deleted since the batch was read
                report.missing += 1
            else:
                report.reindexed += 1
                report.chunks += indexed.chunks
            report.last_call_id = cursor = call_id
        log.info("re-indexed %d calls so far (last %s)", report.reindexed, cursor)
        if progress is not None:
            progress(report)
    return report
