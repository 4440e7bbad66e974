"""The eval command: golden sets read and refused, replies measured (by hand on cases
whose answer is known), and the command run end to end through the chat against the
test database, as text and as JSON."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ezhr_graphql import cli
from ezhr_graphql.container import Container
from ezhr_graphql.evaluation.asking import Answer
from ezhr_graphql.evaluation.golden import GoldenQuestion, GoldenSetError, parse_golden_set
from ezhr_graphql.evaluation.matching import contains_key, source_matches, unquoted_numbers
from ezhr_graphql.evaluation.metrics import percentile, summary
from ezhr_graphql.evaluation.report import problems
from ezhr_graphql.evaluation.run import measure, searched_outcome
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import ChatSession, FinishReason, Grounding, MessageStatus, Role, User
from ezhr_graphql.services.agents import AgentFields
from ezhr_graphql.settings import Settings, get_settings
from tests.conftest import GraphQLClient, PeopleFactory, process_env
from tests.factories import actor, make_agent
from tests.knowledge import UPDATE_DOCUMENT, make_collection, upload, wait_indexed

LEAVE = b"""---
title: Leave policy
---
# Annual leave

Full-time employees earn 20 days of annual leave each calendar year.
Up to 5 unused days carry over into the next year.
"""
PARKING = b"""---
title: Parking policy
---
# Parking

Employees park in lot B behind the main building.
A parking permit costs 30 dollars per month.
"""
# Four answerable questions (one a follow-up) and one the documents cannot answer. The
# fourth names a document that does not exist, so that its source is never cited.
GOLDEN = """# a small golden set
question\tsource\tkey\tfollow_up
How many days of annual leave do I earn each year?\tleave.md\t20 days

How many unused days carry over?\tLEAVE.MD\t5 unused days\tyes
How much does a parking permit cost?\tParking policy\t30 dollars|thirty dollars
Where do employees park their cars?\tbenefits.md\tlot B
What is the capital of Peru?
"""


def outcome(
    rank_of: list[str],
    sources: tuple[str, ...],
    *,
    reply: str = "",
    keys: tuple[str, ...] = (),
    finish: FinishReason | None = FinishReason.STOP,
    status: MessageStatus = MessageStatus.COMPLETED,
    quotes: list[str] | None = None,
    grounding: Grounding | None = None,
    ttft: int | None = None,
) -> Any:
    """The outcome of a reply citing the documents ``rank_of`` (file names), best first."""
    question = GoldenQuestion(1, "q?", sources, keys)
    message = ChatMessageRow(
        content=reply,
        status=status,
        finish_reason=finish,
        grounding=grounding,
        time_to_first_token_ms=ttft,
    )
    citations = [
        {"documentId": name, "title": "", "quote": (quotes or [""])[0]} for name in rank_of
    ]
    answer = Answer(citations=citations, message=message, status=status, first_delta_ms=ttft)
    return measure(question, answer, {name: (name, "") for name in rank_of})


def test_golden_sets_skip_comments_and_read_alternatives_and_follow_ups() -> None:
    questions = parse_golden_set(
        "\ufeff# comment\n\nQuestion\tSource\tKey\tFollow-up\n"
        "How long?\ta.md | Title B\t12 weeks|twelve weeks\n"
        "And then?\ta.md\t\tyes\n"
        "Not covered?\n"
        "  # an indented comment\n"
        "Again?\ta.md\tx\tno\n"
    )
    assert [(q.line, q.question, q.follow_up) for q in questions] == [
        (4, "How long?", False),
        (5, "And then?", True),
        (6, "Not covered?", False),
        (8, "Again?", False),
    ]
    assert questions[0].sources == ("a.md", "Title B")
    assert questions[0].keys == ("12 weeks", "twelve weeks")
    assert questions[0].source == "a.md|Title B"
    assert questions[1].keys == ()
    assert not questions[2].answerable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no questions"),
        ("question\tsource\tkey\n# only a comment\n", "no questions"),
        ("question\tsource\nQ?\ta.md\n", "t:1: the header has no 'key' column"),
        ("question\tsource\tkey\tnote\n", "t:1: unknown column 'note'"),
        ("question\tsource\tkey\tkey\n", "t:1: the column 'key' appears twice"),
        ("question\tsource\tkey\nQ?\ta.md\tk\textra\n", "t:2: 4 fields but the header names 3"),
        ("question\tsource\tkey\n\ta.md\tk\n", "t:2: the question is empty"),
        ("question\tsource\tkey\nQ?\t\tk\n", "t:2: a key phrase but no source"),
        ("question\tsource\tkey\tfollow_up\nQ?\ta.md\tk\tyes\n", "t:2: a follow-up needs"),
    ],
)
def test_malformed_golden_sets_are_refused_with_their_line(text: str, message: str) -> None:
    with pytest.raises(GoldenSetError, match=message):
        parse_golden_set(text, "t")


def test_sources_match_by_file_name_trailing_path_or_title() -> None:
    assert source_matches("leave.md", "travel-and-leave/leave.md", "")
    assert source_matches("LEAVE.md", "leave.md", "")
    assert source_matches("travel-and-leave/leave.md", "travel-and-leave/leave.md", "")
    assert source_matches("leave types", "x.md", "Leave  Types")
    assert not source_matches("leave.md", "sick-leave.md", "")
    assert not source_matches("travel-and-leave/leave.md", "leave.md", "")
    assert not source_matches("", "leave.md", "")


def test_key_phrases_ignore_case_whitespace_and_markers_but_not_diacritics() -> None:
    assert contains_key("You get 12\n  WEEKS of leave [1].", ["12 weeks"])
    assert contains_key("up to 240 hours[2]", ["240 hours"])
    assert contains_key("It **will** be paid out", ["will be paid out"])
    assert contains_key("the cap is $191,900 a year", ["$191,900"])
    assert contains_key("paid at 150%.", ["150%"])
    assert not contains_key("You get 112 weeks", ["12 weeks"])
    assert not contains_key("it will not be paid out", ["will be paid out"])
    assert contains_key("Người lao động được nghỉ 05 ngày", ["NGHỈ 05 NGÀY"])
    assert not contains_key("Nguoi lao dong duoc nghi 05 ngay", ["nghỉ 05 ngày"])
    assert contains_key("x", ["nope", "x"])  # any of the alternatives


def test_numbers_of_a_reply_must_be_in_its_quotes() -> None:
    quotes = ["You earn 4 hours per pay period, up to 1,500 hours.", "Tết: 05 ngày"]
    assert unquoted_numbers("4 hours, at most 1500 hours [1]; 5 ngày [2]", quotes) == []
    assert unquoted_numbers("1. First\n2. You earn 6 hours, then 6 again", quotes) == ["6"]
    assert unquoted_numbers("8 and 9", []) == ["8", "9"]


def test_replies_are_ranked_by_their_distinct_cited_documents() -> None:
    # a.md cited twice, then b.md: b.md is the second document.
    assert outcome(["a.md", "a.md", "b.md"], ("b.md",)).rank == 2
    assert outcome(["a.md"], ("x.md", "a.md")).rank == 1
    assert outcome(["a.md"], ("b.md",)).rank is None


def test_the_search_is_measured_apart_from_what_the_reply_cites() -> None:
    # The search ranked the source first, and the reply refused: a search hit, a miss
    # for the reply.
    refused = outcome([], ("a.md",), finish=FinishReason.NO_ANSWER, reply="not found")
    found = [("a.md", "Leave"), ("b.md", "")]
    refused = searched_outcome(refused, found)
    # The reply cites the source first; the search had it second.
    cited = searched_outcome(outcome(["b.md"], ("b.md",)), found)
    # Neither found it.
    lost = searched_outcome(outcome(["a.md"], ("c.md",)), found)
    by_title = searched_outcome(outcome([], ("leave",)), found)
    assert by_title.search_rank == 1
    assert (refused.search_rank, cited.search_rank, lost.search_rank) == (1, 2, None)
    assert (refused.rank, cited.rank, lost.rank) == (None, 1, None)
    figures = summary([refused, cited, lost])
    assert figures["search"] == {
        "questions": 3,
        "hit_at_1": pytest.approx(1 / 3),
        "hit_at_5": pytest.approx(2 / 3),
        "mrr": pytest.approx((1 + 1 / 2) / 3),
    }
    assert figures["retrieval"]["hit_at_1"] == pytest.approx(1 / 3)
    assert figures["search_by_source"]["b.md"]["mrr"] == 0.5
    assert "source not found by the search" in problems(lost)
    assert "source not found by the search" not in problems(refused)
    assert refused.row()["searched"] == ["a.md", "b.md"]


def test_metrics_on_a_case_computed_by_hand() -> None:
    outcomes = [
        outcome(["a.md"], ("a.md",), reply="12 weeks", keys=("12 weeks",), quotes=["12"], ttft=100),
        outcome(["b.md", "a.md"], ("a.md",), reply="8 days", keys=("12 weeks",), ttft=300),
        outcome(["c.md"], ("b.md",), reply="see 3", quotes=["3"], ttft=200),
        outcome(["a", "b", "c", "d", "e", "f.md"], ("f.md",), finish=FinishReason.LENGTH),
        outcome([], ("a.md",), finish=FinishReason.NO_ANSWER, reply="not found"),
        outcome([], (), finish=FinishReason.NO_ANSWER),
        outcome(["a.md"], (), reply="in 2024", grounding=Grounding.UNSUPPORTED),
        outcome([], ("a.md",), status=MessageStatus.FAILED, finish=None),
    ]
    figures = summary(outcomes)
    # ranks of the 6 answerable: 1, 2, none, 6, none, none
    assert figures["retrieval"] == {
        "questions": 6,
        "hit_at_1": pytest.approx(1 / 6),
        "hit_at_5": pytest.approx(2 / 6),
        "mrr": pytest.approx((1 + 1 / 2 + 1 / 6) / 6),
    }
    assert figures["retrieval_by_source"]["a.md"] == {
        "questions": 4,
        "hit_at_1": 0.25,
        "hit_at_5": 0.5,
        "mrr": pytest.approx(1.5 / 4),
    }
    assert figures["key_phrase"] == {"count": 1, "of": 2, "share": 0.5}
    # answers: the completed replies that are not the no-answer message (5 of 8)
    numbers = figures["unsupported_numbers"]
    assert numbers["stored"] == {"count": 1, "of": 5, "share": 0.2}
    assert numbers["stored_unchecked"] == 4
    assert numbers["quotes"] == {"count": 2, "of": 5, "share": 0.4}  # 8 days, 2024
    assert figures["endings"]["loop_or_length"] == {"count": 1, "of": 7, "share": 1 / 7}
    assert figures["refusals"]["unanswerable"] == {"count": 1, "of": 2, "share": 0.5}
    assert figures["refusals"]["answerable"] == {"count": 1, "of": 6, "share": 1 / 6}
    assert figures["failed"] == {"count": 1, "of": 8, "share": 0.125}
    assert figures["time_to_first_token_ms"]["server"] == {"replies": 3, "p50": 200, "p90": 300}
    assert percentile([5, 1, 4, 2, 3], 50) == 3
    assert percentile([], 90) is None


@pytest.fixture
def database_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command's environment: the test database and settings."""
    for name, value in process_env(settings).items():
        if name.startswith("EZHR_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run_eval(*argv: str) -> int:
    """``ezhr-graphql eval ...`` as the shell runs it (its own event loop)."""
    return await asyncio.to_thread(cli.main, ["eval", *argv])


async def knowledgeable_agent(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> tuple[str, Callable[[], Awaitable[None]]]:
    """An agent answering from the leave and parking policies; and a step that marks
    both outdated, after which it finds nothing to answer from."""
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    documents = []
    for name, data in (("leave.md", LEAVE), ("parking.md", PARKING)):
        sent = await upload(client, admin.token, ids["collection"], name, data)
        done = await wait_indexed(gql, admin.token, sent["document"]["id"])
        assert done["status"] == "READY"
        documents.append(done["id"])
    agent = await make_agent(container, admin)
    async with container.db.transaction() as session:
        services = container.services(session)
        who = actor(admin, Role.ADMIN)
        fields = AgentFields(embedding_model_id=uuid.UUID(ids["model"]))
        await services.agents.update(who, agent.id, fields)
        await services.knowledge.set_agent_collections(
            who, agent.id, [uuid.UUID(ids["collection"])]
        )

    async def outdate() -> None:
        for document in documents:
            variables = {"id": document, "input": {"outdated": True}}
            await gql.data(UPDATE_DOCUMENT, variables, admin.token)

    return agent.name, outdate


@pytest.mark.usefixtures("database_env")
async def test_the_command_asks_through_the_chat_and_measures_the_replies(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent, outdate = await knowledgeable_agent(client, gql, people, container)
    golden = tmp_path / "golden.tsv"
    golden.write_text(GOLDEN, encoding="utf-8")

    assert await run_eval(str(golden), "--agent", agent, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    figures = report["summary"]
    # Ranks by hand: 1 (leave), 1 (leave, the follow-up), 1 (parking, by title), none
    # (benefits.md is no document): hit@1 = hit@5 = MRR = 3/4.
    assert figures["retrieval"] == {
        "questions": 4,
        "hit_at_1": 0.75,
        "hit_at_5": 0.75,
        "mrr": 0.75,
    }
    assert figures["retrieval_by_source"]["LEAVE.MD"]["hit_at_1"] == 1.0
    assert figures["retrieval_by_source"]["benefits.md"]["mrr"] == 0.0
    # The search finds the same: each source first, and no benefits.md.
    assert figures["search"] == figures["retrieval"]
    rows = report["rows"]
    assert [row["searched"][0] for row in rows[:3]] == ["leave.md", "leave.md", "parking.md"]
    assert [row["search_rank"] for row in rows[:4]] == [1, 1, 1, None]
    assert [row["line"] for row in rows] == [3, 5, 6, 7, 8]
    assert rows[0]["cited"][0] == "leave.md"
    assert rows[2]["cited"][0] == "parking.md"
    assert all(row["status"] == "COMPLETED" for row in rows)
    for row in rows[:4]:
        assert row["key_found"] == contains_key(row["reply"], row["key"].split("|"))
    assert rows[4]["key_found"] is None
    assert figures["refusals"]["unanswerable"] == {"count": 1, "of": 1, "share": 1.0}
    assert figures["failed"]["count"] == 0
    assert figures["time_to_first_token_ms"]["client"]["replies"] == 5
    assert report["agent"] == agent
    # Asked as the evaluation user, a member, in 4 conversations: the follow-up joined
    # the one before it.
    async with container.db.read() as session:
        user = await session.scalar(select(User).where(User.email == report["user"]))
        assert user is not None
        assert user.role is Role.MEMBER
        count = select(func.count()).select_from(ChatSession)
        assert await session.scalar(count.where(ChatSession.owner_id == user.id)) == 4

    # With its documents outdated, it finds nothing: the no-answer message every time.
    await outdate()
    assert await run_eval(str(golden), "--agent", agent) == 0
    text = capsys.readouterr().out
    assert "hit@1" in text
    assert re.search(r"no-answer message, unanswerable questions +1 of 1 ", text)
    assert re.search(r"no-answer message, answerable questions +4 of 4 ", text)
    assert "line 7: source not found by the search; no-answer message" in text
    search = r"Search \(a hit: the expected document is found\).*\n +all answerable +4 +0\.000"
    assert re.search(search, text)


def only_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("question\tsource\tkey\nQ?\ta.md\tk\textra\n", ":2: 4 fields"),
        ("question\tanswer\n", ":1: unknown column 'answer'"),
    ],
)
def test_a_missing_or_malformed_golden_set_is_one_line_and_exit_code_2(
    content: str | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = tmp_path / "golden.tsv"
    if content is not None:
        golden.write_text(content, encoding="utf-8")
    assert cli.main(["eval", str(golden), "--agent", "HR Assistant"]) == 2
    assert message in only_line(capsys)


def test_a_database_without_the_agent_is_one_line_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = tmp_path / "golden.tsv"
    golden.write_text(GOLDEN, encoding="utf-8")
    path = tmp_path / "ezhr.db"
    monkeypatch.setenv("EZHR_DATABASE__URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()
    try:
        assert cli.main(["eval", str(golden), "--agent", "HR Assistant"]) == 2
        assert "no database at" in only_line(capsys)
        assert not path.exists()  # not created by asking
        assert cli.main(["db", "upgrade"]) == 0
        assert cli.main(["eval", str(golden), "--agent", "HR Assistant"]) == 2
        assert "this database has no agents" in only_line(capsys)
    finally:
        get_settings.cache_clear()


@pytest.mark.usefixtures("database_env")
async def test_an_unknown_agent_or_one_without_documents_is_one_line_and_exit_code_2(
    container: Container, people: PeopleFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = tmp_path / "golden.tsv"
    golden.write_text(GOLDEN, encoding="utf-8")
    agent = await make_agent(container, await people.admin(), name="Bare")
    assert await run_eval(str(golden), "--agent", "Nobody") == 2
    assert only_line(capsys) == "eval: no agent named 'Nobody' (agents: Bare)"
    assert await run_eval(str(golden), "--agent", agent.name) == 2
    assert "has no indexed documents" in only_line(capsys)
