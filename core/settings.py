"""All configuration, read once from the environment (and a `.env` file).

Every setting is documented in the README's configuration table; nothing else in
the code reads `os.environ` for configuration.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- database -----------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (with pgvector). Unset: an embedded PostgreSQL is used.",
    )
    data_dir: Path = Field(default=Path(".data"), description="Where local state is kept.")
    embedded_pg_dir: Path | None = Field(
        default=None, description="Embedded PostgreSQL data folder (default: DATA_DIR/pg)."
    )
    auto_migrate: bool | None = Field(
        default=None,
        description="Apply migrations on `serve`. Default: yes on the embedded database only.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)

    # --- server -------------------------------------------------------------------
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The URL Twilio and Paddle reach us at; used to validate signatures.",
    )
    api_docs: bool = Field(
        default=False,
        description="Serve the API docs (/docs, /redoc, /openapi.json); off in production.",
    )
    run_worker_in_serve: bool = Field(
        default=True, description="Run the job-queue worker inside `klosesales serve`."
    )
    events_resync_s: float = Field(
        default=30.0,
        ge=1,
        le=86400,
        description="An open chat re-reads its notices and call progress this often even "
        "without a LISTEN/NOTIFY event (a safety net; events arrive at once).",
    )
    chainlit_auth_secret: SecretStr | None = Field(
        default=None,
        description="Signs chat session tokens. Unset: generated once into DATA_DIR.",
    )
    session_secret: SecretStr | None = Field(
        default=None, description="Signs session cookies; generated into DATA_DIR if unset."
    )
    session_days: int = Field(default=14, ge=1, le=90)
    rate_limit_ip_multiplier: int = Field(
        default=1, ge=1, description="Scale per-IP rate limits (many users behind one IP)."
    )
    log_level: str = "INFO"

    # --- chat model ---------------------------------------------------------------
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = Field(default=60.0, gt=0)
    chat_messages_per_minute: int = Field(
        default=20, ge=1, description="Messages one user may send the assistant per minute."
    )
    chat_messages_per_hour: int = Field(
        default=300, ge=1, description="Messages one user may send the assistant per hour."
    )
    low_balance_credits: int = Field(
        default=100, ge=0, description="Below this many available credits, chat warns once."
    )

    # --- telephony and OTP (Twilio) -------------------------------------------------
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_verify_service_sid: str | None = Field(
        default=None, description="Verify service for the sign-in second factor."
    )
    twilio_verify_signup_service_sid: str | None = Field(
        default=None, description="Verify service for sign-up and a change of mobile."
    )
    twilio_verify_reset_service_sid: str | None = Field(
        default=None, description="Verify service for password reset."
    )
    twilio_api_base: str | None = Field(
        default=None,
        description="Override Twilio's REST base URL (tests point it at a local double).",
    )
    max_call_seconds: int = Field(
        default=600, ge=30, le=14400, description="Longest call a hold may pay for."
    )
    ring_timeout_s: int = Field(
        default=30, ge=5, le=600, description="How long a call rings before no-answer."
    )
    twilio_calls_per_second: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Calls per second the shared number may start (Twilio's account CPS; "
        "1 by default). The dial dispatcher never exceeds it in any one-second window.",
    )
    dial_lanes: int = Field(
        default=4, ge=1, le=32, description="Dials a dispatcher process prepares at once."
    )
    call_reconcile_after_s: int = Field(
        default=120,
        ge=10,
        description="After a call's longest possible end plus this, fetch it from Twilio "
        "if its final callback has not come.",
    )
    handoff_ring_timeout_s: int = Field(
        default=20, ge=5, le=60, description="How long the rep's mobile rings on a hand-off."
    )
    handoff_callback_delay_min: int = Field(
        default=60,
        ge=5,
        le=2880,
        description="A hand-off the rep missed books a callback this many minutes later.",
    )
    # --- outbound webhooks (integrations/) -----------------------------------------
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, le=30, description="How long one webhook delivery try may take."
    )
    webhook_test_allow_loopback: bool = Field(
        default=False,
        description="TESTS ONLY: let webhooks go to a receiver on 127.0.0.1/::1 (http too). "
        "Private and link-local addresses stay refused.",
    )
    # --- the simulated carrier (used when Twilio is not configured) ----------------
    sim_carrier_odds: str = Field(
        default="answered=0.7,busy=0.1,no-answer=0.1,voicemail=0.1",
        description="How simulated calls go: weights of answered, busy, no-answer, voicemail.",
    )
    sim_carrier_pace_s: float = Field(
        default=0.4, ge=0, le=10, description="Wall-clock pause between simulated call steps."
    )
    sim_carrier_duplicates: float = Field(
        default=0.0, ge=0, le=1, description="Share of simulated callbacks sent twice."
    )
    sim_carrier_shuffle: bool = Field(
        default=False, description="Deliver a simulated call's callbacks out of order."
    )

    # --- payments (Paddle) ----------------------------------------------------------
    paddle_api_key: SecretStr | None = None
    paddle_webhook_secret: SecretStr | None = None
    paddle_environment: str = Field(default="sandbox", pattern="^(sandbox|production)$")
    paddle_client_token: str | None = None
    paddle_api_base: str | None = Field(
        default=None,
        description="Override Paddle's API base URL (tests point it at a local double).",
    )
    paddle_signature_tolerance_s: int = Field(
        default=300,
        ge=5,
        le=3600,
        description="How old a Paddle-Signature timestamp may be before it is refused.",
    )

    # --- sign-in with Google / Meta (Facebook) -------------------------------------
    google_client_id: str | None = Field(
        default=None, description="Google OAuth client id: shows 'Continue with Google'."
    )
    google_client_secret: SecretStr | None = None
    google_metadata_url: str = Field(
        default="https://accounts.google.com/.well-known/openid-configuration",
        description="Google's OpenID configuration (tests point it at a local double).",
    )
    meta_client_id: str | None = Field(
        default=None, description="Meta (Facebook) app id: shows 'Continue with Facebook'."
    )
    meta_client_secret: SecretStr | None = None
    meta_authorize_url: str = "https://www.facebook.com/v19.0/dialog/oauth"
    meta_token_url: str = "https://graph.facebook.com/v19.0/oauth/access_token"  # noqa: S105
    meta_api_base: str = Field(
        default="https://graph.facebook.com/v19.0/",
        description="Meta's Graph API base URL (tests point these at a local double).",
    )

    # --- embeddings -----------------------------------------------------------------
    embeddings_provider: str = Field(default="local", pattern="^(local|openai)$")

    @property
    def uses_embedded_db(self) -> bool:
        return self.database_url is None

    @property
    def pg_dir(self) -> Path:
        return (self.embedded_pg_dir or self.data_dir / "pg").resolve()

    @property
    def should_auto_migrate(self) -> bool:
        return self.uses_embedded_db if self.auto_migrate is None else self.auto_migrate

    @property
    def twilio_live(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)

    @property
    def verify_live(self) -> bool:
        return bool(
            self.twilio_account_sid and self.twilio_auth_token and self.twilio_verify_service_sid
        )

    @property
    def verify_service_sids(self) -> dict[str, str | None]:
        """Each OTP flow's Verify service (accounts/otp): one per flow, so that one
        flow's failed codes never lock another's."""
        return {
            "login": self.twilio_verify_service_sid,
            "signup": self.twilio_verify_signup_service_sid,
            "reset": self.twilio_verify_reset_service_sid,
        }

    @property
    def all_providers_simulated(self) -> bool:
        """Nothing outside is live (telephony, Verify, payments, chat model): only then
        may the simulated Verify's codes be shown on a page (the dev inbox)."""
        return not (self.twilio_live or self.verify_live or self.paddle_live or self.openai_live)

    @property
    def paddle_live(self) -> bool:
        return bool(self.paddle_api_key and self.paddle_webhook_secret)

    @property
    def paddle_api_url(self) -> str:
        if self.paddle_api_base:
            return self.paddle_api_base.rstrip("/")
        if self.paddle_environment == "production":
            return "https://api.paddle.com"
        return "https://sandbox-api.paddle.com"

    @property
    def openai_live(self) -> bool:
        return self.openai_api_key is not None

    @property
    def google_oauth_enabled(self) -> bool:
        return bool(self.google_client_id and self.google_client_secret)

    @property
    def meta_oauth_enabled(self) -> bool:
        return bool(self.meta_client_id and self.meta_client_secret)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
