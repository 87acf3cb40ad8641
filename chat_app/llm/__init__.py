"""Chat model selection: OpenAI when configured, else the offline model."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from core.settings import Settings


@dataclass(frozen=True)
class ModelChoice:
    model: BaseChatModel
    live: bool
    label: str


def select_model(settings: Settings) -> ModelChoice:
    if settings.openai_api_key is not None:
        from langchain_openai import ChatOpenAI

        model = ChatOpenAI(
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_s,
            max_retries=1,
        )
        return ModelChoice(model=model, live=True, label=f"OpenAI {settings.openai_model}")
    from chat_app.llm.offline import OfflineChatModel

    return ModelChoice(model=OfflineChatModel(), live=False, label="Offline model")
