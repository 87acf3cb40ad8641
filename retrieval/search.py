"""Hybrid search over transcript chunks: pgvector (cosine) + full text, fused with RRF.

Who sees what: every query is confined to one workspace (the actor's; a platform admin
may name another) and, for a rep, to the chunks of contacts they own. A call or
contact filter is checked first: one the actor may not see is "not found", whether it
exists elsewhere or not.

The vector leg must stay complete on pgvector 0.6.2, which has no iterative index
scans: an HNSW scan returns at most `hnsw.ef_search` rows and filters them afterwards,
so a filtered HNSW query can silently return fewer rows than asked. So:

* any scope of a workspace without its own index (fewer than
  `retrieval.indexing.TENANT_INDEX_ROWS` chunks), and a narrower scope (a rep's, call's
  or contact's rows) of at most `Tuning.exact_max_rows` rows in any workspace, is
  searched exactly: its rows are found by btree and their distances worked out in a
  MATERIALIZED CTE, then ordered — always complete;
* a larger scope in a workspace with its own partial HNSW index
  (`retrieval.indexing.ensure_tenant_index`) is searched through that index, with a
  WHERE clause equal to the index's predicate (so the planner can use it, and the index
  holds only that workspace's rows), `hnsw.ef_search` raised to what is fetched, and the
  fetch enlarged by the scope's share of the workspace; the rows are then filtered to
  the scope, and if fewer than wanted remain while the scope holds more, the leg falls
  back to exact search over the scope.

The full-text leg ranks the turns holding more of the query's words first — each word
weighed by how rare it is (BM25's idf, from the planner's statistics of `tsv`:
`query_terms`) — then those holding them as the query's phrase, then by `ts_rank_cd`,
over the `tsv` GIN index (in a workspace with its own indexes, over its
own partial GIN index); both are worked out only for the rows the GIN index matched,
as `ts_rank_cd` alone was. A query written with
web-search syntax ("quoted phrases", -exclusions, OR) goes through
`websearch_to_tsquery`; a plain question matches any of its words (an AND of every
word of a question rarely matches anything), less the words so common (in more than
5,000 chunks, by the planner's statistics) that ranking every chunk holding them
would cost more than it tells — the vector leg still reads them.

The two legs' top candidates are fused by reciprocal rank fusion (k = 60, weights
in `Tuning`), an agent's turn scaled by 0.8 (what the prospect said
is what a search is usually after); the relevance floor then decides whether anything
matched, and later hits may be a little farther than the first (`Tuning`). The
weights were set on the tuning half of the labelled set only (bench/search_quality.py).
Each hit cites its call, contact, speakers and time (absolute, and "mm:ss" into the
call).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from pgvector.sqlalchemy import Vector
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from accounts.service import Actor
from core.errors import KloseError, NotFound, PermissionDenied
from core.markdown import Md, md_escape
from retrieval.chunking import clock
from retrieval.embeddings import Embedder
from retrieval.models import EMBEDDING_DIM, TenantIndex, TranscriptChunk, tenant_predicate
from telephony.access import get_contact
from telephony.calls import get_call
from telephony.models import Call, Contact, TranscriptSegment

MAX_QUERY_CHARS = 1_000
MAX_K = 50
RRF_K = 60
MAX_EF_SEARCH = 1_000  # pgvector's upper bound for hnsw.ef_search
MAX_TEXT_TERMS = 64
SNIPPET_CHARS = 320
COMMON_TERM_ROWS = 5_000  # plain-question words in more chunks than this are not ranked

Mode = Literal["hybrid", "vector", "text"]


class SearchInputError(KloseError, ValueError):
    """A search that cannot run as asked: nothing was searched."""


# Narrower scopes (a rep's, a call's, a contact's rows) of up to this many rows are
# searched exactly, even in a workspace with its own HNSW index. Exact search costs
# ≈ 1.2 µs a row with the embeddings inline (migration 0018; bench/retrieval.py, 2 cores):
# ≈ 19 ms for a rep's 15,500 rows of a 300k-row workspace, complete by construction,
# where the workspace's index needs ef_search ≈ 700 to find 30 of that rep's rows and
# still fell back to exact search for 12 % of queries (p50 22 ms).
EXACT_MAX_ROWS = 20_000
# The floor of hnsw.ef_search. On 300k clustered rows (index built with ef_construction
# 128), 100 still left 1 query in 300 stuck in the wrong cluster (recall@10 0 for it);
# 200 left none (recall@10 0.999), for ≈ 2.5 ms a query (bench/retrieval.py, full size).
MIN_EF_SEARCH = 200
MAX_DISTANCE = 0.50
MAX_DISTANCE_TEXT = 0.70
# ts_headline's markers around a matched word (not Markdown: `Hit.highlighted` escapes the
# text between them and only then marks them up).
MARK_START, MARK_STOP = "\u27e6", "\u27e7"
HEADLINE_OPTIONS = (
    f"StartSel={MARK_START}, StopSel={MARK_STOP}, MaxWords=35, MinWords=15,"
    ' ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "'
)


@dataclass(frozen=True)
class Tuning:
    """How the vector leg chooses between exact and HNSW search, and how much it fetches."""

    exact_max_rows: int = EXACT_MAX_ROWS  # narrow scopes up to this many rows: exact search
    min_ef_search: int = MIN_EF_SEARCH
    candidates_per_k: int = 3  # each leg proposes max(k × this, min_candidates) rows
    min_candidates: int = 30
    overfetch: float = 1.2  # margin over the expected share of rows in scope
    # The relevance floor (hybrid and vector modes): a candidate is a hit only if its
    # cosine distance to the query is at most `max_distance`, or at most
    # `max_distance_text` when the full-text leg found it too. Below it the answer is
    # "nothing matched", not k loosely related turns. Calibrated on the labelled set
    # (bench/search_quality.py, tests/fixtures/search_quality/): `max_distance` 0.50
    # on its tuning half once turns were embedded alone (0.55 answered a negative query
    # there and found nothing more; 0.60 answered two more queries, neither well).
    max_distance: float = MAX_DISTANCE
    max_distance_text: float = MAX_DISTANCE_TEXT
    hit_candidates_per_k: int = 3  # fused candidates read to fill k after floor and dedup
    # A turn the full-text leg found may be as far as `max_distance_text` only if it
    # holds all of the query's words (stop words aside); one holding a share c of them,
    # as far as max_distance + c × (max_distance_text − max_distance): one shared word
    # ("companies" for "company is being acquired") is not much of a match. False: any
    # turn the full-text leg found gets the looser floor.
    graded_text_floor: bool = True
    # Once one candidate has cleared the floor (the query has an answer), the next ones
    # may be up to `follow_margin` farther than it, but never beyond `follow_cap`: the
    # floor decides whether anything matched, not how many related turns are shown.
    follow_margin: float = 0.2
    follow_cap: float = 0.75
    # Reciprocal rank fusion: Σ weight / (rrf_k + rank) over the legs. Weighing the
    # full-text leg 1.25 or 1.5 won a query or two on the labelled set's tuning half but
    # lost one on tests/retrieval/corpus.py: equal weights.
    rrf_k: int = RRF_K
    vector_weight: float = 1.0
    text_weight: float = 1.0
    # ts_rank_cd's normalisation (a bit mask, see PostgreSQL's "Ranking Search Results").
    rank_normalization: int = 0
    # The query's words weighed by how rare they are (`idf`): a turn holding "Samsara"
    # matches "which prospects asked about Samsara" more than one holding "asked".
    idf_weights: bool = True
    # Among turns holding the same share of the query's words, those holding them as
    # the query's phrase ("Microsoft Teams", not "Microsoft … three teams") first.
    phrase_first: bool = True
    # A hit's fused score is multiplied by this when the agent said it (the prospect's
    # own words are what a search is usually after).
    agent_factor: float = 0.8


DEFAULT_TUNING = Tuning()


@dataclass(frozen=True)
class Scope:
    """The rows a search may see: one workspace, and optionally one owner, call, contact."""

    workspace_id: uuid.UUID
    owner_id: uuid.UUID | None = None
    call_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None

    @property
    def narrow(self) -> bool:
        return any(x is not None for x in (self.owner_id, self.call_id, self.contact_id))

    def where(self, *, literal_workspace: bool = False) -> tuple[str, dict[str, Any]]:
        """A SQL condition on `transcript_chunks t` (fixed fragments: every value is a bound
        parameter, so the statements built on it are safe despite ruff's S608).

        `literal_workspace`: the workspace written as its own partial indexes' predicate
        (`retrieval.models.tenant_predicate`), so that they can serve the statement."""
        if literal_workspace:
            clauses, params = [tenant_predicate(self.workspace_id, "t.")], {}
        else:
            clauses, params = ["t.workspace_id = :ws"], {"ws": self.workspace_id}
        if self.owner_id is not None:
            clauses.append("t.owner_id = :owner")
            params["owner"] = self.owner_id
        if self.call_id is not None:
            clauses.append("t.call_id = :call")
            params["call"] = self.call_id
        if self.contact_id is not None:
            # Through the contact's calls, so the (call_id, seq) index finds the rows.
            clauses.append(
                "t.contact_id = :contact"
                " AND t.call_id IN (SELECT c.id FROM calls c WHERE c.contact_id = :contact)"
            )
            params["contact"] = self.contact_id
        return " AND ".join(clauses), params

    def admits(self, owner_id: uuid.UUID, call_id: uuid.UUID, contact_id: uuid.UUID) -> bool:
        return (
            (self.owner_id is None or owner_id == self.owner_id)
            and (self.call_id is None or call_id == self.call_id)
            and (self.contact_id is None or contact_id == self.contact_id)
        )


@dataclass(frozen=True)
class Hit:
    """One chunk found, with what a citation needs."""

    chunk_id: int
    call_id: uuid.UUID
    contact_id: uuid.UUID
    contact_name: str
    speakers: tuple[str, ...]
    started_at: datetime
    offset_s: int
    text: str  # the turn ("Prospect: …")
    score: float  # reciprocal-rank-fusion score (higher is better)
    vector_rank: int | None  # 1-based rank in each leg, None if the leg did not find it
    text_rank: int | None
    segment: int = 0  # the transcript segment (turn) `seq` the hit quotes
    distance: float | None = None  # cosine distance to the query (None: text mode)
    headline: str = ""  # the window of `text` around the matched words, marked

    @property
    def offset(self) -> str:
        """How far into the call the chunk starts, "mm:ss"."""
        return clock(self.offset_s)

    @property
    def snippet(self) -> str:
        """The words around the match (plain text): the headline when the query's words
        are in the turn, else the turn's start."""
        if self.headline:
            return self.headline.replace(MARK_START, "").replace(MARK_STOP, "")
        if len(self.text) <= SNIPPET_CHARS:
            return self.text
        return self.text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"

    def highlighted(self) -> Md:
        """`snippet` as Markdown: every character escaped (`md_escape`), the matched
        words in bold."""
        source = self.headline or self.snippet
        parts: list[str] = []
        for n, piece in enumerate(re.split(f"[{MARK_START}{MARK_STOP}]", source)):
            escaped = md_escape(piece) if piece.strip() else ""
            lead = " " if piece[:1].isspace() and parts else ""
            trail = " " if piece[-1:].isspace() else ""
            parts.append(
                f"{lead}**{escaped}**{trail}" if n % 2 and escaped else f"{lead}{escaped}{trail}"
            )
        return Md("".join(parts).strip())

    def cite(self) -> str:
        speakers = ", ".join(self.speakers)
        return f"call {self.call_id} with {self.contact_name} at {self.offset} ({speakers})"


@dataclass(frozen=True)
class Leg:
    """One leg's candidates, best first, and how they were found."""

    ids: list[int]
    strategy: str  # "exact", "hnsw", "hnsw+exact" (fell back) or "fulltext"


def check_query(query: str, k: int) -> str:
    """The query, stripped, if it can be searched; SearchInputError otherwise."""
    stripped = query.strip()
    if not stripped:
        raise SearchInputError("The search query is empty: say what to look for in the calls.")
    if len(stripped) > MAX_QUERY_CHARS:
        raise SearchInputError(
            f"The search query is too long ({len(stripped):,} characters; at most "
            f"{MAX_QUERY_CHARS:,}). Ask with fewer words."
        )
    if not 1 <= k <= MAX_K:
        raise SearchInputError(f"Ask for between 1 and {MAX_K} results, not {k}.")
    return stripped


async def resolve_scope(
    session: AsyncSession,
    actor: Actor,
    *,
    workspace_id: uuid.UUID | None = None,
    call_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
) -> Scope:
    """The rows `actor` may search, narrowed to a call or contact they may see."""
    if (
        workspace_id is not None
        and workspace_id != actor.workspace_id
        and actor.role is not Role.ADMIN
    ):
        raise PermissionDenied("Only platform admins can search another workspace.")
    workspace = workspace_id or actor.workspace_id
    if call_id is not None:
        call = await get_call(session, actor, call_id)
        if workspace_id is not None and call.workspace_id != workspace_id:
            raise NotFound("No such call.")
        workspace = call.workspace_id
    if contact_id is not None:
        contact = await get_contact(session, actor, contact_id)
        if contact.workspace_id != (workspace_id or workspace):
            raise NotFound("No such contact.")
        workspace = contact.workspace_id
    owner = actor.user_id if actor.role is Role.REP else None
    return Scope(workspace, owner_id=owner, call_id=call_id, contact_id=contact_id)


async def calls_awaiting_index(
    session: AsyncSession, scope: Scope, *, within: timedelta = timedelta(hours=1)
) -> int:
    """Calls in `scope` that ended recently with a transcript not searchable yet (the
    indexing job runs a few seconds after a call ends)."""
    query = (
        select(func.count(Call.id))
        .join(Contact, Contact.id == Call.contact_id)
        .where(
            Call.workspace_id == scope.workspace_id,
            Call.settled_at > func.now() - within,
            select(TranscriptSegment.call_id).where(TranscriptSegment.call_id == Call.id).exists(),
            ~select(TranscriptChunk.call_id).where(TranscriptChunk.call_id == Call.id).exists(),
        )
    )
    if scope.owner_id is not None:
        query = query.where(Contact.owner_id == scope.owner_id)
    if scope.call_id is not None:
        query = query.where(Call.id == scope.call_id)
    if scope.contact_id is not None:
        query = query.where(Call.contact_id == scope.contact_id)
    return int(await session.scalar(query) or 0)


# --- the vector leg ------------------------------------------------------------------------


def _vector_param() -> Any:
    return bindparam("q", type_=Vector(EMBEDDING_DIM))


async def exact_vector(
    session: AsyncSession, scope: Scope, vector: list[float], n: int, model: str
) -> list[int]:
    """The `n` nearest rows of the scope by exact cosine distance (complete by design)."""
    where, params = scope.where()
    # The distance is worked out inside the CTE: materializing the embeddings themselves
    # (1.5 kB a row) spilled past work_mem to a temporary file and doubled the cost.
    statement = text(
        "WITH scoped AS MATERIALIZED ("  # noqa: S608
        f" SELECT t.id, t.embedding <=> :q AS distance FROM transcript_chunks t WHERE {where}"
        " AND t.embedding_model = :model)"
        " SELECT id FROM scoped ORDER BY distance, id LIMIT :n"
    ).bindparams(_vector_param())
    rows = await session.scalars(statement, {**params, "model": model, "q": vector, "n": n})
    return list(rows.all())


async def count_scope(session: AsyncSession, scope: Scope) -> int:
    where, params = scope.where()
    found = await session.scalar(
        text(f"SELECT count(*) FROM transcript_chunks t WHERE {where}"),  # noqa: S608
        params,
    )
    return int(found or 0)


def hnsw_statement(workspace_id: uuid.UUID) -> Any:
    """The nearest rows of one workspace, through its partial HNSW index: the WHERE
    clause is the index's predicate, literally (a bound parameter would not prove it)."""
    return text(
        "SELECT t.id, t.owner_id, t.call_id, t.contact_id, t.embedding_model"  # noqa: S608
        " FROM transcript_chunks t"
        f" WHERE {tenant_predicate(workspace_id, 't.')}"
        " ORDER BY t.embedding <=> :q LIMIT :fetch"
    ).bindparams(_vector_param())


# A leg's `index` argument left out: the leg reads the workspace's index itself.
_UNREAD: Final = object()


async def tenant_index(session: AsyncSession, workspace_id: uuid.UUID) -> Any:
    """The workspace's own indexes (`index_name`, `rows_at_build`), or None: it has none."""
    return (
        await session.execute(
            select(TenantIndex.index_name, TenantIndex.rows_at_build).where(
                TenantIndex.workspace_id == workspace_id
            )
        )
    ).first()


async def vector_leg(
    session: AsyncSession,
    scope: Scope,
    vector: list[float],
    n: int,
    model: str,
    tuning: Tuning = DEFAULT_TUNING,
    *,
    index: Any = _UNREAD,
) -> Leg:
    """The scope's `n` nearest rows (fewer only if the scope has fewer). `index`: the
    workspace's `tenant_index`, when the caller has read it already."""
    if index is _UNREAD:
        index = await tenant_index(session, scope.workspace_id)
    scope_rows: int | None = None
    if index is None:
        return Leg(await exact_vector(session, scope, vector, n, model), "exact")
    fetch = n
    if scope.narrow:
        scope_rows = await count_scope(session, scope)
        if scope_rows <= tuning.exact_max_rows:
            return Leg(await exact_vector(session, scope, vector, n, model), "exact")
        share = scope_rows / max(int(index.rows_at_build), scope_rows)
        fetch = math.ceil(n / share * tuning.overfetch)
        if fetch > MAX_EF_SEARCH:  # too small a share for the index to serve
            return Leg(await exact_vector(session, scope, vector, n, model), "exact")
    ef_search = min(MAX_EF_SEARCH, max(fetch, tuning.min_ef_search))
    # Sorting is off for this one statement, so the planner takes the index even when
    # its statistics are stale (a btree scan and a sort would be exact, but slow).
    sort = await session.scalar(text("SELECT current_setting('enable_sort')"))
    await session.execute(
        text(
            "SELECT set_config('hnsw.ef_search', :ef, true), set_config('enable_sort', 'off', true)"
        ),
        {"ef": str(ef_search)},
    )
    rows = (
        await session.execute(hnsw_statement(scope.workspace_id), {"q": vector, "fetch": fetch})
    ).all()
    await session.execute(text("SELECT set_config('enable_sort', :on, true)"), {"on": sort})
    ids = [
        r.id
        for r in rows
        if r.embedding_model == model and scope.admits(r.owner_id, r.call_id, r.contact_id)
    ][:n]
    if len(ids) < n:
        if scope_rows is None:
            scope_rows = await count_scope(session, scope)
        if scope_rows > len(ids):
            return Leg(await exact_vector(session, scope, vector, n, model), "hnsw+exact")
    return Leg(ids, "hnsw")


# --- the full-text leg ------------------------------------------------------------------

_WEBSEARCH_SYNTAX = re.compile(r'"|(^|\s)-\w|\bor\b', re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def _words(query: str) -> list[str]:
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TEXT_TERMS]


def tsquery_sql(query: str, words: list[str]) -> tuple[str, dict[str, Any]] | None:
    """A tsquery expression and its parameters: web-search syntax as written, else any of
    `words` (None: no word to look for)."""
    if _WEBSEARCH_SYNTAX.search(query):
        return "websearch_to_tsquery('english', :tq)", {"tq": query}
    if not words:
        return None
    parts = [f"plainto_tsquery('english', :w{i})" for i in range(len(words))]
    return " || ".join(parts), {f"w{i}": w for i, w in enumerate(words)}


@dataclass(frozen=True)
class Terms:
    """A plain question's words as the full-text leg weighs them: each searchable word
    (not a stop word) with its weight, and the words too common to rank."""

    weights: dict[str, float]  # searchable word → weight (1.0 each without statistics)
    common: frozenset[str]  # stop words, and words in more than COMMON_TERM_ROWS chunks

    @property
    def total(self) -> float:
        """The weight of every searchable word together (1 when there is none)."""
        return sum(self.weights.values()) or 1.0


_TERM_STATS = text(
    "WITH st AS (SELECT s.most_common_elems::text::text[] AS elems,"
    " s.most_common_elem_freqs AS freqs, GREATEST(c.reltuples, 1)::float8 AS n"
    " FROM pg_stats s JOIN pg_class c ON c.oid = 'transcript_chunks'::regclass"
    " WHERE s.schemaname = current_schema() AND s.tablename = 'transcript_chunks'"
    " AND s.attname = 'tsv' AND NOT s.inherited LIMIT 1)"
    " SELECT w.word, numnode(plainto_tsquery('english', w.word)) > 0 AS searchable, st.n,"
    " st.freqs[array_length(st.elems, 1) + 1] AS min_freq,"
    " (SELECT min(COALESCE(st.freqs[array_position(st.elems, l)], 0))"
    "  FROM unnest(tsvector_to_array(to_tsvector('english', w.word))) AS l) AS freq"
    " FROM unnest(CAST(:words AS text[])) AS w(word) LEFT JOIN st ON true"
)


def idf(freq: float | None, min_freq: float | None) -> float:
    """A word's weight from the share of chunks holding it (`freq`, from the planner's
    statistics; 0 when it is rarer than any they track, whose least share is
    `min_freq`): ln(1 + 1/share), BM25's inverse document frequency. A word said in
    half the chunks weighs 1.1, one in a hundredth 4.6. Without statistics: 1."""
    if min_freq is None or min_freq <= 0:
        return 1.0
    share = freq if freq else min_freq / 2
    return math.log1p(1.0 / share)


async def query_terms(session: AsyncSession, words: list[str], *, weighted: bool = True) -> Terms:
    """The query's `words` weighed by how rare they are (`idf`, from the planner's
    statistics of `tsv`; each 1.0 when `weighted` is False or there are no statistics),
    and those too common to rank: stop words, and words in more than
    `COMMON_TERM_ROWS` chunks — ranking every chunk that holds a word like "prospect"
    costs far more than it tells."""
    if not words:
        return Terms({}, frozenset())
    rows = (await session.execute(_TERM_STATS, {"words": words})).all()
    weights: dict[str, float] = {}
    common: set[str] = set()
    for row in rows:
        if not row.searchable:
            common.add(row.word)
            continue
        if row.n is not None and row.freq is not None and row.freq * row.n > COMMON_TERM_ROWS:
            common.add(row.word)
        weights[row.word] = idf(row.freq, row.min_freq) if weighted else 1.0
    return Terms(weights, frozenset(common))


async def common_words(session: AsyncSession, words: list[str]) -> set[str]:
    """The words found in more than `COMMON_TERM_ROWS` chunks, or stop words
    (`query_terms`)."""
    return set((await query_terms(session, words)).common)


def coverage_sql(query: str, words: list[str], weights: dict[str, float] | None = None) -> str:
    """How much of the query a row `t` holds, as SQL on the parameters of
    `tsquery_sql(query, words)`: the sum of the `weights` (1 each when not given) of the
    words it holds (web-search syntax: 1, the whole query being one condition). Worked
    out only for rows the tsquery matched. The weights are written as numbers (floats
    worked out here, never text from the query)."""
    if _WEBSEARCH_SYNTAX.search(query) or not words:
        return "1"
    weight = {w: 1.0 for w in words} if weights is None else weights
    matched = [
        f"{float(weight[w]):.6f} * (t.tsv @@ plainto_tsquery('english', :w{i}))::int"
        for i, w in enumerate(words)
        if weight.get(w)
    ]
    return "(" + " + ".join(matched) + ")" if matched else "0"


def share_sql(query: str, words: list[str], terms: Terms) -> str:
    """The share (0 to 1, by weight) of the query's searchable words a row `t` holds, as
    SQL on the parameters of `tsquery_sql(query, words)` (web-search syntax: 1)."""
    coverage = coverage_sql(query, words, terms.weights)
    return "1" if coverage == "1" else f"{coverage} / {terms.total:.6f}"


PHRASE_SQL = "(t.tsv @@ phraseto_tsquery('english', :phrase))::int"


def phrase_param(words: list[str], terms: Terms) -> dict[str, str]:
    """`PHRASE_SQL`'s parameter for a query of two or more searchable words (their
    order kept, stop words holding their places), else nothing: no phrase to find."""
    if sum(w in terms.weights for w in words) < 2:
        return {}
    return {"phrase": " ".join(words)}


def text_statement(
    where: str, expression: str, coverage: str = "1", normalization: int = 0, phrase: str = ""
) -> Any:
    """The full-text leg's statement: rows matching `where` (`Scope.where`) and the tsquery
    `expression` (`tsquery_sql`), those holding more of the query's words (`coverage`,
    `coverage_sql`) first, then those holding its words as a phrase (`phrase`:
    `PHRASE_SQL`, or ""), then best `ts_rank_cd` (with `normalization`), `:n` of them."""
    # A constant key is left out: PostgreSQL reads ORDER BY 1 as "the first column".
    keys = [key for key in (coverage, phrase) if key and not key.isdigit()]
    keys.append(f"ts_rank_cd(t.tsv, q.query, {int(normalization)})")
    return text(
        "SELECT t.id FROM transcript_chunks t, (SELECT "  # noqa: S608
        f"{expression} AS query) q"
        f" WHERE {where} AND t.tsv @@ q.query"
        f" ORDER BY {' DESC, '.join(keys)} DESC, t.id LIMIT :n"
    )


async def text_leg(
    session: AsyncSession,
    scope: Scope,
    query: str,
    n: int,
    *,
    index: Any = _UNREAD,
    tuning: Tuning = DEFAULT_TUNING,
    terms: Terms | None = None,
) -> Leg:
    """The scope's `n` best rows: those holding more of the query's words (by weight,
    `query_terms`) first, then by `ts_rank_cd`. In a workspace with its own indexes the
    workspace is written as their predicate, so its own GIN index serves the query.
    `index`: the workspace's `tenant_index`, and `terms` the query's `query_terms`,
    when the caller has read them already."""
    if index is _UNREAD:
        index = await tenant_index(session, scope.workspace_id)
    words = _words(query)
    if terms is None:
        terms = await query_terms(session, words, weighted=tuning.idf_weights)
    rare = [w for w in words if w not in terms.common]
    tsquery = tsquery_sql(query, rare)
    if tsquery is None:
        return Leg([], "fulltext")
    expression, tparams = tsquery
    where, params = scope.where(literal_workspace=index is not None)
    phrase = phrase_param(words, terms) if tuning.phrase_first else {}
    coverage = coverage_sql(query, rare, terms.weights)
    statement = text_statement(
        where, expression, coverage, tuning.rank_normalization, PHRASE_SQL if phrase else ""
    )
    rows = await session.scalars(statement, {**params, **tparams, **phrase, "n": n})
    return Leg(list(rows.all()), "fulltext")


# --- fusion and the search itself --------------------------------------------------------


def fuse(
    rankings: Sequence[Sequence[int]],
    *,
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: Σ weight / (k + rank) over the rankings (each weight 1
    unless given), best first."""
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for n, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[n]
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], kv[0]))


def _floor(tuning: Tuning, text_found: bool, coverage: float) -> float:
    """The largest cosine distance a candidate may have to be a hit (see `Tuning`)."""
    if not text_found:
        return tuning.max_distance
    if not tuning.graded_text_floor:
        return tuning.max_distance_text
    share = min(1.0, max(0.0, coverage))
    return tuning.max_distance + share * (tuning.max_distance_text - tuning.max_distance)


async def _hits(
    session: AsyncSession,
    scope: Scope,
    fused: list[tuple[int, float]],
    vector_ids: list[int],
    text_ids: list[int],
    *,
    k: int,
    vector: list[float] | None,
    tsquery: tuple[str, dict[str, Any]] | None,
    coverage: str = "1",
    tuning: Tuning = DEFAULT_TUNING,
) -> list[Hit]:
    """The best `k` of the `fused` candidates that clear the relevance floor, one per
    turn, each with its window of words around the match. Per-row work (distance,
    headline, the share of the query's words held: `coverage`, `share_sql` on the
    parameters of `tsquery`) is done for these few candidates only, never for the scope.

    The floor: a candidate's cosine distance to the query is at most `_floor`, or
    after a first hit within `follow_margin` of the nearest hit (up to `follow_cap`).
    An agent's turn's fused score is scaled by `tuning.agent_factor` before the
    candidates are ordered."""
    if not fused:
        return []
    candidates = fused[: max(k, k * tuning.hit_candidates_per_k)]
    found = await _candidate_rows(
        session, scope, [chunk_id for chunk_id, _ in candidates], vector, tsquery, coverage
    )
    scored = [
        (chunk_id, score * (tuning.agent_factor if tuple(row.speakers) == ("agent",) else 1.0))
        for chunk_id, score in candidates
        if (row := found.get(chunk_id)) is not None
    ]
    scored.sort(key=lambda pair: -pair[1])  # stable: ties keep the fused order
    ranks = (_ranks(vector_ids), _ranks(text_ids))
    return _floored(scored, found, ranks, k=k, tuning=tuning)


def _ranks(ids: list[int]) -> dict[int, int]:
    return {chunk_id: rank for rank, chunk_id in enumerate(ids, start=1)}


async def _candidate_rows(
    session: AsyncSession,
    scope: Scope,
    ids: list[int],
    vector: list[float] | None,
    tsquery: tuple[str, dict[str, Any]] | None,
    coverage: str,
) -> dict[int, Any]:
    """The rows of the chunks `ids` inside `scope`, by id, each with its distance to
    `vector`, its headline for `tsquery` and the share of the query's words it holds."""
    where, params = scope.where()
    # Reps: the contact must still be theirs (a chunk keeps the owner it was indexed with).
    owner = " AND c.owner_id = :owner" if scope.owner_id is not None else ""
    distance = "t.embedding <=> :q" if vector is not None else "NULL::float8"
    expression, tparams = tsquery if tsquery is not None else ("NULL::tsquery", {})
    statement = text(
        "SELECT t.id, t.call_id, t.contact_id, c.name, t.speakers, t.started_at,"  # noqa: S608
        f" t.offset_s, t.text, t.first_segment, {distance} AS distance,"
        " CASE WHEN t.tsv @@ q.query THEN ts_headline('english', t.text, q.query, :opts)"
        " ELSE '' END AS headline,"
        f" CASE WHEN t.tsv @@ q.query THEN ({coverage})::float8 ELSE 0 END AS coverage"
        f" FROM transcript_chunks t CROSS JOIN (SELECT {expression} AS query) q"
        " JOIN contacts c ON c.id = t.contact_id AND c.workspace_id = t.workspace_id"
        f" WHERE t.id = ANY(:ids) AND {where}{owner}"
    )
    values: dict[str, Any] = {**params, **tparams, "opts": HEADLINE_OPTIONS, "ids": ids}
    if vector is not None:
        statement = statement.bindparams(_vector_param())
        values["q"] = vector
    return {r.id: r for r in await session.execute(statement, values)}


def _floored(
    scored: list[tuple[int, float]],
    found: dict[int, Any],
    ranks: tuple[dict[int, int], dict[int, int]],
    *,
    k: int,
    tuning: Tuning,
) -> list[Hit]:
    """The first `k` of `scored` (best first) that clear the floor, one per turn and
    one per wording: the same words on several calls (a campaign's purpose line, a
    stock answer) are one passage, not k — the best-ranked copy is kept."""
    vector_rank, text_rank = ranks
    hits: list[Hit] = []
    seen: set[tuple[uuid.UUID, int]] = set()
    said: set[str] = set()
    best: float | None = None  # the nearest hit's distance so far
    for chunk_id, score in scored:
        row = found[chunk_id]
        words = " ".join(row.text.lower().split())
        if (row.call_id, row.first_segment) in seen or words in said:
            continue
        if row.distance is not None:
            floor = _floor(tuning, chunk_id in text_rank, row.coverage)
            if best is not None:
                floor = max(floor, min(best + tuning.follow_margin, tuning.follow_cap))
            if row.distance > floor:
                continue
            best = row.distance if best is None else min(best, row.distance)
        seen.add((row.call_id, row.first_segment))
        said.add(words)
        hits.append(_hit(row, chunk_id, score, vector_rank, text_rank))
        if len(hits) == k:
            break
    return hits


def _hit(
    row: Any, chunk_id: int, score: float, vector_rank: dict[int, int], text_rank: dict[int, int]
) -> Hit:
    return Hit(
        chunk_id=chunk_id,
        call_id=row.call_id,
        contact_id=row.contact_id,
        contact_name=row.name,
        speakers=tuple(row.speakers),
        started_at=row.started_at,
        offset_s=row.offset_s,
        text=row.text,
        score=score,
        vector_rank=vector_rank.get(chunk_id),
        text_rank=text_rank.get(chunk_id),
        segment=row.first_segment,
        distance=None if row.distance is None else float(row.distance),
        headline=row.headline or "",
    )


async def search(
    session: AsyncSession,
    actor: Actor,
    query: str,
    *,
    k: int = 10,
    embedder: Embedder,
    call_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    workspace_id: uuid.UUID | None = None,
    mode: Mode = "hybrid",
    tuning: Tuning = DEFAULT_TUNING,
) -> list[Hit]:
    """The `k` chunks `actor` may see that best match `query`, best first.

    `mode` "vector" or "text" runs one leg alone (for comparison). The session's
    transaction keeps `hnsw.ef_search` as set here until it ends.
    """
    stripped = check_query(query, k)
    if mode not in ("hybrid", "vector", "text"):
        raise SearchInputError(f"Unknown search mode {mode!r}: hybrid, vector or text.")
    scope = await resolve_scope(
        session, actor, workspace_id=workspace_id, call_id=call_id, contact_id=contact_id
    )
    n = max(k * tuning.candidates_per_k, tuning.min_candidates)
    vector_ids: list[int] = []
    text_ids: list[int] = []
    vector: list[float] | None = None
    index = await tenant_index(session, scope.workspace_id)  # read once, for both legs
    if mode != "text":
        [vector] = await embedder.embed([stripped])
        if len(vector) != EMBEDDING_DIM:
            raise SearchInputError(
                f"The embeddings model gave {len(vector)} dimensions; {EMBEDDING_DIM} are needed."
            )
        vector_ids = (
            await vector_leg(session, scope, vector, n, embedder.model_name, tuning, index=index)
        ).ids
    words = _words(stripped)
    terms = await query_terms(session, words, weighted=tuning.idf_weights)
    if mode != "vector":
        text_ids = (
            await text_leg(session, scope, stripped, n, index=index, tuning=tuning, terms=terms)
        ).ids
    legs = [
        (ids, w)
        for ids, w in ((vector_ids, tuning.vector_weight), (text_ids, tuning.text_weight))
        if ids
    ]
    fused = fuse([ids for ids, _ in legs], k=tuning.rrf_k, weights=[w for _, w in legs])
    return await _hits(
        session,
        scope,
        fused,
        vector_ids,
        text_ids,
        k=k,
        vector=vector,
        tsquery=tsquery_sql(stripped, words),
        coverage=share_sql(stripped, words, terms),
        tuning=tuning,
    )
