"""Hybrid retrieval without a database: a question's terms, which of them the keyword
leg searches for, FTS5 queries that no input can break, fusion and reranking."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import mssql

from ezhr_graphql.repositories.keywords import (
    KeywordScope,
    KeywordTerm,
    choose,
    fts5_query,
    like_pattern,
    like_statement,
)
from ezhr_graphql.services.retrieval.lexical import lexical_scores
from ezhr_graphql.services.retrieval.rerank import RRF_K, Candidate, rerank
from ezhr_graphql.services.retrieval.terms import (
    MAX_TERMS,
    canonical_tones,
    other_tone_placement,
    query_terms,
)

HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    '" OR "',
    "AND OR NOT",
    "NOT",
    "*",
    "fmla*",
    "^leave",
    "title:leave",
    "body : x",
    "NEAR(leave sick, 2)",
    "((((",
    ")",
    "{title heading}: leave",
    "'; DROP TABLE document; --",
    "a:b&c|!d<->e",
    "leave:*",
    "%_[]^",
    "\\",
    "\x00leave\x00",
    "😀🎉 🙈",
    "leave " * 5000,
    "I-9 401(k) SF-50 12.5",
    'fmla" OR title:x NEAR("',
]


def text_of(question: str) -> list[str]:
    return [term.text for term in query_terms(question).terms]


def test_stop_words_of_english_and_vietnamese_are_left_out_numbers_kept() -> None:
    assert text_of("How many days of annual leave do I get after 5 years?") == [
        "days",
        "annual",
        "leave",
        "5",
        "years",
    ]
    assert text_of("Tôi được nghỉ phép năm bao nhiêu ngày?") == ["nghỉ", "phép", "năm", "ngày"]
    assert text_of("Thời giờ làm việc như thế nào, là gì?") == ["thời", "giờ", "làm", "việc"]
    # "bao" alone is a word (a bag); only "bao nhiêu" is a question word.
    assert text_of("bao lì xì") == ["bao", "lì", "xì"]


def test_words_are_cut_as_the_index_cuts_them() -> None:
    # Case folded, diacritics kept, NFC whatever the input.
    decomposed = "Đie\u0302\u0300u 19"
    assert text_of(decomposed) == ["điều", "19"]
    assert text_of("ĐIỀU 19") == ["điều", "19"]
    # Form numbers and amounts stay whole; other punctuation splits words.
    terms = query_terms("Where is form I-9, the SF-50 and my 401(k)? Part-time employee's 12.5%")
    assert [(t.text, t.tokens) for t in terms.terms] == [
        ("form", ("form",)),
        ("i-9", ("i", "9")),
        ("sf-50", ("sf", "50")),
        ("401(k", ("401", "k")),
        ("part", ("part",)),
        ("time", ("time",)),
        ("employee", ("employee",)),
        ("12.5", ("12", "5")),
    ]
    assert ("part", "time") in terms.pairs


def test_questions_without_words_have_no_terms() -> None:
    for question in ("", "   ", "?!", "😀🎉", "what is it?", "là gì vậy?", "\x00"):
        assert not query_terms(question), question


def test_long_questions_are_bounded() -> None:
    words = " ".join(f"word{i}" for i in range(1000))
    terms = query_terms(words)
    assert len(terms.terms) == MAX_TERMS
    assert not query_terms("x" * 100_000).terms  # one 100k-letter word is no term
    assert text_of("a" * 64 + " leave") == ["a" * 64, "leave"]


def term(text: str) -> KeywordTerm:
    return KeywordTerm(text, tuple(text.replace("-", " ").split()))


def test_the_rarest_terms_are_searched_within_the_budget() -> None:
    terms = [term("leave"), term("fmla"), term("annual"), term("i-9"), term("zzz")]
    frequency = {"leave": 900.0, "fmla": 40.0, "annual": 300.0, "i": 2000.0, "9": 50.0}
    chosen = choose(terms, frequency, 500)
    # Unknown words go (no row holds them), form numbers stay, then rarest first.
    assert [t.text for t in chosen.terms] == ["i-9", "fmla", "annual"]
    assert not chosen.all_required
    assert [t.text for t in choose(terms, frequency, 10_000).terms] == [
        "i-9",
        "fmla",
        "annual",
        "leave",
    ]
    # Every word common: the rarest few must all match.
    common = [term("leave"), term("annual"), term("days"), term("policy")]
    counts = {"leave": 900.0, "annual": 300.0, "days": 500.0, "policy": 700.0}
    chosen = choose(common, counts, 100)
    assert [t.text for t in chosen.terms] == ["annual", "days", "policy"]
    assert chosen.all_required
    # Nothing known: all of them.
    assert choose(terms, None, 1).terms == terms
    # A word the statistics do not list counts as ``unknown`` rows.
    assert [t.text for t in choose([term("rare")], {}, 10, unknown=5.0).terms] == ["rare"]


@pytest.fixture(scope="module")
def fts5() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0')"
    )
    db.execute("INSERT INTO t VALUES ('Leave', 'Nghỉ phép năm: I-9 and FMLA; 401(k) 12.5 days')")
    db.execute("INSERT INTO t VALUES ('Thoả ước', 'Hoà giải tại cơ sở')")
    return db


@pytest.mark.parametrize("question", HOSTILE)
def test_fts5_queries_of_hostile_questions_parse(fts5: sqlite3.Connection, question: str) -> None:
    terms = list(query_terms(question).search)
    for chosen in (choose(terms, None, 0), choose(terms, {}, 0, unknown=1e9)):
        if chosen.terms:
            fts5.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_query(chosen),)).fetchall()


def test_fts5_queries_quote_whatever_a_term_holds(fts5: sqlite3.Connection) -> None:
    for text in HOSTILE:
        query = fts5_query(choose([KeywordTerm(text, ("x",))], None, 0))
        fts5.execute("SELECT rowid FROM t WHERE t MATCH ?", (query,)).fetchall()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_no_question_breaks_an_fts5_query(question: str) -> None:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'unicode61 remove_diacritics 0')"
    )
    terms = list(query_terms(question).search)
    for chosen in (choose(terms, None, 0), choose(terms, {}, 0, unknown=1e9)):
        if chosen.terms:
            db.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_query(chosen),)).fetchall()


def test_the_fts5_query_finds_terms_as_the_index_cuts_them(fts5: sqlite3.Connection) -> None:
    def found(question: str) -> bool:
        chosen = choose(list(query_terms(question).search), None, 0)
        query = fts5_query(chosen)
        return bool(fts5.execute("SELECT 1 FROM t WHERE t MATCH ?", (query,)).fetchall())

    assert found("FMLA?")
    assert found("nghỉ phép")
    assert found("form I-9")
    assert found("401(k)")
    assert found("12.5")
    assert not found("nghi phep")  # diacritics are part of the word
    assert not found("I-10")
    # A tone written on the other vowel of "oa", "oe", "uy" is the same word.
    assert found("thỏa")
    assert found("thoả")
    assert found("hòa")


def test_vietnamese_tones_placed_either_way_are_one_word() -> None:
    assert other_tone_placement("thỏa") == "thoả"
    assert other_tone_placement("thoả") == "thỏa"
    assert other_tone_placement("quý") == "qúy"
    assert other_tone_placement("hoàng") == "hoàng"  # not a final "oa"
    assert other_tone_placement("leave") == "leave"
    assert canonical_tones("Thỏa ước, hòa giải") == canonical_tones("Thoả ước, hoà giải")
    assert [t.text for t in query_terms("Thỏa ước hòa giải").search] == [
        "thỏa",
        "ước",
        "hòa",
        "giải",
        "thoả",
        "hoà",
    ]
    # The reranker reads both spellings as one word.
    [written, other] = lexical_scores(
        query_terms("thỏa ước"), [("", "Thoả ước này"), ("", "Thỏa ước này")]
    )
    assert written == other > 0


def test_the_sql_server_fallback_matches_case_insensitively_with_accents() -> None:
    assert like_pattern(KeywordTerm("i-9", ("i", "9"))) == "%i_9%"
    scope = KeywordScope([uuid.uuid4()], [uuid.uuid4()])
    statement = like_statement(scope, [term("fmla"), term("i-9")], 20, "mssql")
    sql = str(statement.compile(dialect=mssql.dialect()))
    assert sql.startswith("SELECT TOP")
    assert "COLLATE Latin1_General_100_CI_AS) LIKE" in sql
    assert "ORDER BY found DESC" in sql
    assert "document.collection_id IN" in sql
    assert "document.id NOT IN" in sql


def candidate(text: str, vector: int | None, keyword: int | None, cosine: float = 0.5) -> Candidate:
    return Candidate(
        chunk_id=uuid.uuid4(),
        document_id=uuid.uuid4(),
        title="Leave",
        heading_path=(),
        page=None,
        text=text,
        vector_rank=vector,
        vector_score=cosine if vector is not None else None,
        keyword_rank=keyword,
        keyword_score=1.0 if keyword is not None else None,
    )


def test_fusion_puts_what_both_legs_found_first() -> None:
    text = "Annual leave accrues every pay period."
    both = candidate(text, 1, 1)
    vector_only = candidate(text, 2, None)
    keyword_only = candidate(text, None, 2)
    question = query_terms("How does annual leave accrue?")
    ranked = rerank(question, [keyword_only, vector_only, both], 3)
    assert ranked[0].chunk_id == both.chunk_id
    assert {p.chunk_id for p in ranked[1:]} == {vector_only.chunk_id, keyword_only.chunk_id}
    assert all(0 < p.score <= 1 for p in ranked)
    assert [p.score for p in ranked] == sorted((p.score for p in ranked), reverse=True)
    assert ranked[0].vector_score == 0.5
    assert ranked[0].keyword_score == 1.0
    assert [p.chunk_id for p in rerank(question, [both, vector_only], 1)] == [both.chunk_id]


def test_first_in_both_legs_with_every_word_scores_one() -> None:
    only = candidate("Is FMLA leave unpaid? Yes.", 1, 1, cosine=1.0)
    (passage,) = rerank(query_terms("Is FMLA leave unpaid?"), [only], 5)
    assert passage.score == pytest.approx(1.0)
    assert passage.lexical_score == pytest.approx(1.0)
    assert only.fused() == pytest.approx(2 / (RRF_K + 1))


def test_the_passage_holding_the_rare_words_wins_a_tie() -> None:
    common = [candidate(f"Leave policy section {i}.", None, None) for i in range(5)]
    rare = candidate("Leave under FMLA is unpaid.", None, None)
    scores = lexical_scores(
        query_terms("Is FMLA leave paid?"), [("", c.text) for c in [*common, rare]]
    )
    assert scores[-1] == max(scores)
    assert scores[-1] > scores[0]
    # A sentence holding the question's words as written beats the same words apart.
    apart = ("", "Annual reports are due. Leave is approved by a supervisor.")
    together = ("", "Annual leave is approved by a supervisor. Reports are due.")
    low, high = lexical_scores(query_terms("annual leave"), [apart, together])
    assert high > low


def test_a_question_of_stop_words_ranks_by_legs_and_cosine() -> None:
    near = candidate("Whatever it says.", 1, None, cosine=0.8)
    far = candidate("Whatever it says.", 2, None, cosine=0.2)
    ranked = rerank(query_terms("what is it?"), [far, near], 2)
    assert [p.chunk_id for p in ranked] == [near.chunk_id, far.chunk_id]
    assert all(p.lexical_score == 0 for p in ranked)
    assert rerank(query_terms("what"), [], 3) == []
