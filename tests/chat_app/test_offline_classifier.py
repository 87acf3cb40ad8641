"""The offline model's learned intent classifier and its slot filling.

The weights (`chat_app/llm/offline_router/intent_model.npz`) are learned by
`scripts/train_intents.py` from `chat_app/llm/offline_router/training/*.jsonl` and
the intents' examples; these tests check the shipped weights were learned from the
data in the tree, that every intent is a class, and what the router does around the
classifier: phone numbers in the user's region, names with typos matched to known
people, the sentence model loaded only when the words don't settle a message. Pure
unit tests: no database.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from chat_app.agent import TOOLS
from chat_app.llm.offline_router import INTENTS, classifier, route
from chat_app.llm.offline_router.classifier import IntentModel, load_examples, training_hash
from chat_app.llm.offline_router.slots import closest_name, e164

TOOL_NAMES = frozenset(t.name for t in TOOLS)
TODAY = date(2026, 11, 29)
ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_weights_were_learned_from_the_training_files():
    model = IntentModel.load()
    assert model.data_hash == training_hash(), (
        "the training phrasings changed since the weights were learned: run "
        ".venv/bin/python scripts/train_intents.py and commit intent_model.npz"
    )


def test_the_training_hash_changes_with_any_training_file(tmp_path):
    copy = tmp_path / "training"
    shutil.copytree(classifier.TRAINING_DIR, copy)
    before = training_hash(copy)
    row = {"text": "ping the Okafor account about renewal", "tool": "place_call", "args": {}}
    with (copy / "place_call.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    assert training_hash(copy) != before
    (copy / "new_tool.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert len({before, training_hash(copy)}) == 2


def test_every_intent_and_every_labelled_tool_is_a_class():
    classes = set(IntentModel.load().classes)
    assert {i.name for i in INTENTS} <= classes
    assert {e.label for e in load_examples()} <= classes
    assert "none" in classes  # what no tool does, learned from out-of-scope phrasings
    # Every tool the agent offers has phrasings to learn from.
    assert classes >= TOOL_NAMES, TOOL_NAMES - classes


def test_no_phrasing_is_labelled_twice_differently():
    seen: dict[str, tuple[str, str]] = {}
    for path in classifier.training_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert set(row) <= {"text", "tool", "args", "intent"}, row
            key = " ".join(row["text"].lower().split())
            label = str(row.get("intent") or row.get("tool") or "none")
            if key in seen:
                assert seen[key][0] == label, f"{row['text']!r}: {label} here, {seen[key]}"
            seen[key] = (label, path.name)


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        # Misrouted by the hand-weighted scorer (issue 17).
        ("new lead: Ingrid Solberg at Fjord Analytics 503 555 0111", "add_contact"),
        ("compare this week to last week", "analytics"),
        ("conn rate per rep, last week", "analytics"),
        ("trnscript for omar", "get_transcript"),
        # Typos the words alone would miss.
        ("how many credtis do i have left", "check_credits"),
        ("summraize my last call", "summarize_call"),
        ("plz sumarise the call with dana", "summarize_call"),
        ("whats my ballance", "check_credits"),
    ],
)
def test_the_classifier_routes_what_the_rules_got_wrong(text, tool):
    found = route(text, TOOL_NAMES, today=TODAY)
    assert found is not None and found.intent.tool == tool, found


def test_out_of_scope_messages_reach_no_tool():
    for text in ("what's the weather in Paris?", "tell me a joke about accountants"):
        found = route(text, TOOL_NAMES, today=TODAY)
        assert found is None or found.intent.tool is None, (text, found)


def test_a_phone_number_is_read_in_the_users_region():
    text = "change my mobile to 020 7946 0018"
    in_gb = route(text, TOOL_NAMES, today=TODAY, region="GB")
    assert in_gb is not None and in_gb.intent.tool == "change_mobile"
    assert in_gb.args["new_mobile"] == "+442079460018"
    # Its own country code wins over the region.
    found = route("add Ana Reyes +1 415 555 0134", TOOL_NAMES, today=TODAY, region="GB")
    assert found is not None and found.args["phone"] == "+14155550134"
    assert e164("not a number", "US") is None


def test_a_misspelt_name_is_matched_to_the_people_the_caller_knows():
    known = ["Lucas Moreau", "Dana Whitfield", "Luca Bianchi"]
    found = route("summarize my call with dana whitfeild", TOOL_NAMES, today=TODAY, contacts=known)
    assert found is not None and found.intent.tool == "summarize_call"
    assert found.args["call"] == "Dana Whitfield"
    assert closest_name("Lucas Moreau", known) == "Lucas Moreau"
    assert closest_name("zebediah", known) is None  # nobody close: left as typed
    # Unknown names are left alone, as are call ids.
    plain = route("summarize my call with Priya Raman", TOOL_NAMES, today=TODAY, contacts=known)
    assert plain is not None and plain.args["call"] == "Priya Raman"


def test_a_question_never_reaches_a_tool_the_caller_says_writes():
    text = "did we already buy the growth pack?"
    found = route(text, TOOL_NAMES, today=TODAY, changing=frozenset({"buy_credits"}))
    assert found is None or found.intent.tool != "buy_credits"


def test_below_the_floor_nothing_is_guessed():
    model = IntentModel.load()
    never = IntentModel(**{**model.__dict__, "floor": 1.01, "lexical_sure": 1.01})
    assert route("how many credits do I have?", TOOL_NAMES, today=TODAY, model=never) is None


def test_the_sentence_model_is_used_only_when_the_words_do_not_settle_it():
    calls: list[str] = []

    def embed(text: str) -> np.ndarray:
        calls.append(text)
        return classifier.embed(text)

    found = route("how many credits do I have?", TOOL_NAMES, today=TODAY, embed=embed)
    assert found is not None and found.intent.tool == "check_credits"
    assert calls == []
    model = IntentModel.load()
    always = IntentModel(**{**model.__dict__, "lexical_sure": 1.01})
    found = route("how many credits do I have?", TOOL_NAMES, today=TODAY, model=always, embed=embed)
    assert found is not None and found.intent.tool == "check_credits"
    assert calls == ["how many credits do I have?"]


def test_the_offline_model_passes_the_users_region_and_known_names_to_the_router():
    from langchain_core.messages import HumanMessage

    from chat_app.llm.offline import OfflineChatModel

    model = OfflineChatModel(time_zone="Europe/London").bind_tools(TOOLS)
    assert isinstance(model, OfflineChatModel)
    assert {"place_call", "buy_credits", "change_mobile"} <= model.write_tools
    in_gb = model.model_copy(update={"region": "GB"})
    reply = in_gb.respond([HumanMessage(content="change my mobile to 020 7946 0018")])
    assert reply.tool_calls[0]["args"]["new_mobile"] == "+442079460018", reply.tool_calls
    knowing = model.model_copy(update={"known_names": ("Dana Whitfield", "Lucas Moreau")})
    reply = knowing.respond([HumanMessage(content="summarize my call with dana whitfeild")])
    assert reply.tool_calls[0]["name"] == "summarize_call"
    assert reply.tool_calls[0]["args"]["call"] == "Dana Whitfield"
