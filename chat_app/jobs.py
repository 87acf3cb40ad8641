"""Wires every domain's job blueprint into one procrastinate app."""

from __future__ import annotations

import procrastinate

from billing import jobs as billing_jobs
from chat_app import post_call
from core.db import Database
from core.jobs import make_job_app
from core.settings import Settings
from insights import jobs as insights_jobs
from retrieval import jobs as retrieval_jobs
from retrieval.embeddings import Embedder
from telephony import jobs as telephony_jobs
from telephony.provider import Telephony
from telephony.views import openai_config


def build_job_app(
    db: Database, telephony: Telephony, settings: Settings, embedder: Embedder
) -> procrastinate.App:
    return make_job_app(
        db.libpq_url,
        [
            ("billing", billing_jobs.register(db)),
            ("telephony", telephony_jobs.register(db, telephony)),
            ("insights", insights_jobs.register(db, openai_config(settings))),
            ("retrieval", retrieval_jobs.register(db, embedder)),
            ("post_call", post_call.register(db)),
        ],
    )


async def run_worker(app: procrastinate.App) -> None:
    """Run the worker until cancelled; in-flight jobs get 10 s to finish."""
    await app.run_worker_async(
        install_signal_handlers=False,
        shutdown_graceful_timeout=10,
        listen_notify=True,
    )
