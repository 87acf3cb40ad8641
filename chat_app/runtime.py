"""The process's composition root: settings, database, model and agent.

The FastAPI lifespan (or a CLI command) builds one `Runtime`; the Chainlit app,
loaded by Chainlit itself, finds it here. It holds no user: every request brings
its own actor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from accounts.otp import OtpProvider
from accounts.otp.factory import build_otp
from accounts.sessions import Signer
from billing.payments import Payments, build_payments
from chat_app.agent import build_agent
from chat_app.llm import ModelChoice, select_model
from core.db import Database
from core.events import EventListener
from core.secrets import persistent_secret
from core.settings import Settings
from retrieval.embeddings import Embedder, build_embedder
from telephony.provider import Telephony, build_telephony

if TYPE_CHECKING:
    from chat_app.history import ChatFiles  # imports Chainlit (~1 s): only when used
    from chat_app.post_call import PostCallQueue  # procrastinate: the server's only


@dataclass
class Runtime:
    settings: Settings
    db: Database
    # Where settled calls' post-call work is queued, while the server is up.
    post_calls: PostCallQueue | None = None
    # This process's LISTEN/NOTIFY listener (core/events.py), while the server is up.
    events: EventListener | None = None

    @cached_property
    def model(self) -> ModelChoice:
        return select_model(self.settings)

    @cached_property
    def signer(self) -> Signer:
        secret = persistent_secret(
            self.settings.data_dir, "session_secret", self.settings.session_secret
        )
        return Signer(secret, session_days=self.settings.session_days)

    @cached_property
    def otp(self) -> OtpProvider:
        """Live Verify, or the simulator; refuses (`OtpConfigError`) live telephony
        without live Verify, or live Verify without a service per flow."""
        return build_otp(self.settings, self.db)

    @cached_property
    def payments(self) -> Payments:
        return build_payments(self.settings, self.db)

    @cached_property
    def embedder(self) -> Embedder:
        return build_embedder(self.settings)

    @cached_property
    def telephony(self) -> Telephony:
        return build_telephony(self.settings)

    @cached_property
    def chat_files(self) -> ChatFiles:
        from chat_app.history import ChatFiles

        return ChatFiles(self.db)

    @cached_property
    def agent(self) -> Any:
        return build_agent(self.model.model)

    async def call_ended(self, call_id: uuid.UUID) -> None:
        """Hand a settled call's post-call work to the queue (telephony/deps.py
        `CallEnded`): Twilio's callback does not wait for the job queue (under load,
        its connections were the callback's slowest part); what a crash loses in
        between, the post-call sweep queues again. Nothing while the server is down."""
        if self.post_calls is not None:
            self.post_calls.add(call_id)

    def build_providers(self) -> None:
        """Build the outside services now, so settings that cannot work together (live
        telephony without live Verify, …) refuse to start with their message rather
        than at the first request that needs them."""
        # Reading each cached property builds it (and raises if it cannot be built).
        _built = (self.signer, self.otp, self.payments, self.telephony)

    def providers(self) -> dict[str, dict[str, str]]:
        s = self.settings

        def mode(live: bool, live_detail: str, sim_detail: str) -> dict[str, str]:
            return {
                "mode": "live" if live else "simulated",
                "detail": live_detail if live else sim_detail,
            }

        return {
            "telephony": mode(s.twilio_live, "Twilio", "simulated carrier"),
            "otp": mode(
                self.otp.live,
                "Twilio Verify",
                "simulated Verify (local inbox)"
                if getattr(self.otp, "dev_inbox", False)
                else "simulated Verify (codes in the server log)",
            ),
            "payments": mode(
                s.paddle_live, f"Paddle ({s.paddle_environment})", "simulated checkout"
            ),
            "chat_model": mode(
                s.openai_live, f"OpenAI {s.openai_model}", "offline intent classifier"
            ),
            "embeddings": mode(
                True,
                "OpenAI embeddings"
                if s.embeddings_provider == "openai"
                else "local all-MiniLM-L6-v2",
                "",
            ),
        }


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def get_runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError(
            "the application runtime is not set up (start it with `klosesales serve`)"
        )
    return _runtime
