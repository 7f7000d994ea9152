"""The Engine facade: what the CLI and the web app rely on."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from caresearch.config import Settings
from caresearch.engine import Engine
from caresearch.errors import CaresearchError, NotFound, QueryError
from caresearch.serialize import search_result
from caresearch.tfidf import MIN_SIMILARITY

CASE_IDS = ["tobetsu", "tsuruoka", "naraha", "urayasu", "yokohama", "nanto"]


def test_cases_in_corpus_order(bundled_engine: Engine) -> None:
    assert [c.id for c in bundled_engine.cases] == CASE_IDS
    assert [c.id for c in bundled_engine.case_infos] == CASE_IDS


def test_cases_read_from_the_build_equal_the_corpus_files(bundled_engine: Engine) -> None:
    # The build keeps the cases on disk and reads each when it is shown: nothing may change.
    from caresearch.corpus import load_corpus

    on_disk = load_corpus(bundled_engine.settings.corpus_dir)
    assert list(bundled_engine.cases) == list(on_disk)
    assert [bundled_engine.case(c.id) for c in on_disk] == list(on_disk)
    assert bundled_engine.cases[-1] == on_disk[-1] and bundled_engine.cases[1:3] == list(
        on_disk[1:3]
    )
    for info, case in zip(bundled_engine.case_infos, on_disk, strict=True):
        assert (info.title, info.name, info.themes, info.keywords) == (
            case.title,
            case.name,
            case.themes,
            case.keywords,
        )


def test_every_lesson_is_found_by_its_id(bundled_engine: Engine) -> None:
    for case in bundled_engine.cases:
        for lesson in case.lessons:
            assert bundled_engine.lesson(lesson.id) == (case, lesson)
    for bad in ("tobetsu-sg-99", "nope-sg-1", "", "tobetsu"):
        with pytest.raises(NotFound):
            bundled_engine.lesson(bad)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_case_by_id(bundled_engine: Engine, case_id: str) -> None:
    assert bundled_engine.case(case_id).id == case_id


@pytest.mark.parametrize("case_id", ["nope", "", "NANTO", "../nanto", None])
def test_unknown_case_is_not_found_with_a_message(bundled_engine: Engine, case_id) -> None:
    with pytest.raises(NotFound) as info:
        bundled_engine.case(case_id)
    assert info.value.http_status == 404 and info.value.exit_code != 0
    assert info.value.message
    if case_id:
        assert case_id in info.value.message


def test_errors_form_one_hierarchy() -> None:
    assert issubclass(NotFound, CaresearchError) and issubclass(QueryError, CaresearchError)
    assert QueryError("x").exit_code == 2 and QueryError("x").http_status == 400


# --- lessons -------------------------------------------------------------------------------------


def test_all_lessons(bundled_engine: Engine) -> None:
    items = bundled_engine.lessons()
    expected = sum(len(c.lessons) for c in bundled_engine.cases)
    assert len(items) == expected == 56
    assert all(lesson.case_id == case.id for case, lesson in items)


@pytest.mark.parametrize("theme", ["在宅医療", "災害・避難", "事業者連携"])
def test_lessons_by_theme(bundled_engine: Engine, theme: str) -> None:
    """A theme chooses the lessons about it (Lesson.themes), not every lesson of its cases."""
    items = bundled_engine.lessons(theme=theme)
    assert items and all(theme in lesson.themes for _c, lesson in items)
    everything = bundled_engine.lessons()
    assert len(items) == sum(theme in lesson.themes for _c, lesson in everything)
    assert bundled_engine.lessons(theme=[theme, "認知症"]) == items  # any of several


@pytest.mark.parametrize("kind", ["key_point", "suggestion"])
def test_lessons_by_kind(bundled_engine: Engine, kind: str) -> None:
    items = bundled_engine.lessons(kind=kind)
    assert items and {lesson.kind for _c, lesson in items} == {kind}


def test_lessons_by_prefecture(bundled_engine: Engine) -> None:
    items = bundled_engine.lessons(prefecture="北海道")
    assert items and {c.id for c, _l in items} == {"tobetsu"}


@pytest.mark.parametrize(("key", "value"), [("theme", "宇宙開発"), ("kind", "joke")])
def test_unknown_lesson_filter_is_a_query_error(
    bundled_engine: Engine, key: str, value: str
) -> None:
    with pytest.raises(QueryError):
        bundled_engine.lessons(**{key: value})


# --- similar cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_similar_cases(bundled_engine: Engine, case_id: str) -> None:
    me = bundled_engine.case(case_id)
    items = bundled_engine.similar(case_id, limit=3)
    assert 1 <= len(items) <= 3  # only cases above the similarity floor
    assert case_id not in [s.case.id for s in items]
    assert [s.score for s in items] == sorted((s.score for s in items), reverse=True)
    for s in items:
        assert s.score >= MIN_SIMILARITY
        assert set(s.shared_themes) <= set(me.themes) & set(s.case.themes)
        # whole words only: no term inside another shown term or a shared theme
        shown = [*s.shared_terms, *s.shared_themes]
        assert not any(t != o and t in o for t in s.shared_terms for o in shown), shown
        assert len(s.shared_terms) <= 3 and len(set(s.shared_terms)) == len(s.shared_terms)
    everyone = bundled_engine.similar(case_id, limit=50)
    assert len(everyone) < len(CASE_IDS) - 1 or case_id == "tsuruoka"
    assert [s.case.id for s in everyone[:3]] == [s.case.id for s in items]


def test_similar_unknown_case_is_not_found(bundled_engine: Engine) -> None:
    with pytest.raises(NotFound):
        bundled_engine.similar("nope")


# --- searching through the engine ------------------------------------------------------------------


def test_engine_honours_its_settings(bundled_settings: Settings, bundled_engine: Engine) -> None:
    settings = dataclasses.replace(
        bundled_settings, page_size=2, passages_per_case=1, max_query_chars=5
    )
    engine = Engine.open(settings)
    try:
        result = engine.search("連携")
        assert len(result.hits) == 2 and result.page_size == 2
        assert all(len(h.passages) == 1 for h in result.hits)
        with pytest.raises(QueryError):
            engine.search("地域包括支援センター")
    finally:
        engine.close()


def test_concurrent_searches_equal_serial(bundled_engine: Engine) -> None:
    queries = ["認知症", "ケアマネ", "ざいたく", "住民 ボランティア", "連携", "見守り", "社協"] * 4
    serial = [search_result(bundled_engine.search(q)) for q in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda q: search_result(bundled_engine.search(q)), queries))
    assert parallel == serial


def offered(engine: Engine, query: str, **kwargs) -> list[tuple[str, str, str]]:
    return [tuple(x) for x in engine.search(query, **kwargs).suggestions]


def test_a_search_that_finds_nothing_suggests_other_ways_to_ask(bundled_engine: Engine) -> None:
    # 通いの場 as typed (exact mode): the words the table points it to, which cases have
    got = offered(bundled_engine, "通いの場", exact=True)
    assert ("通いの場", "サロン", "サロン") in got and len(got) == len(set(got))
    assert offered(bundled_engine, "宇宙飛行士") == []
    # never one that finds nothing again: 虐待's synonym 高齢者虐待 is in no case either, nor
    # are ケアマネ's synonyms in the one case of 富山県
    assert offered(bundled_engine, "虐待") == []
    assert offered(bundled_engine, "ケアマネ", filters={"prefecture": ["富山県"]}) == []


@pytest.mark.parametrize(
    ("query", "word", "instead", "asked"),
    [
        ("見守", "見守", "見守り", "見守り"),  # cut short: the corpus's word that begins with it
        ("みまも", "みまも", "見守り", "見守り"),  # ... by its reading
        ("ｹｱﾏ", "ｹｱﾏ", "ケアマネジャー", "ケアマネジャー"),
        ("ボランテ", "ボランテ", "ボランティア", "ボランティア"),
        ("見守 -認知症", "見守", "見守り", "見守り -認知症"),
        # the other word found cases: they are shown, and the word cut short is named
        ("認知症 ケアマ", "ケアマ", "ケアマネジャー", "認知症 ケアマネジャー"),
        # a compound cut short: its last piece completed (searched by its parts meanwhile)
        ("介護予", "介護予", "介護予防", "介護予防"),
        ("多職種連", "多職種連", "多職種連携", "多職種連携"),
        # two words cut short: each is offered on its own
        ("見守 ケアマ", "ケアマ", "ケアマネジャー", "見守 ケアマネジャー"),
        # the word as searched (its grammar and brackets off), replaced where it was typed
        ("見守がほしい", "見守", "見守り", "見守りがほしい"),
        ("【見守】", "見守", "見守り", "【見守り】"),
        ("-見守り隊 見守", "見守", "見守り", "-見守り隊 見守り"),
        ("お年寄り 見守", "見守", "見守り", "お年寄り 見守り"),
    ],
)
def test_a_word_cut_short_is_completed_from_the_corpus(
    bundled_engine: Engine, query: str, word: str, instead: str, asked: str
) -> None:
    assert (word, instead, asked) in offered(bundled_engine, query)


def test_only_suggestions_the_corpus_writes_are_offered(bundled_engine: Engine) -> None:
    # 介護予 begins 介護予め, 介護予定, 介護予算 too: only 介護予防 is written in a case
    assert [x[1] for x in offered(bundled_engine, "介護予 認知症")] == ["介護予防"]
    # 協議体 is no word cut short: 協議体制, 協議体操… are written nowhere
    assert offered(bundled_engine, "協議体") == []


def test_words_the_corpus_has_are_not_completed(bundled_engine: Engine) -> None:
    assert offered(bundled_engine, "認知症 ICT") == []  # an OR fallback of real words
    # 地域包括ケア is written; only the word cut short after it is completed
    assert [x[:2] for x in offered(bundled_engine, "地域包括ケア 地域包")] == [
        ("地域包", "地域包括")
    ]


def test_opening_writes_nothing(bundled_settings: Settings, bundled_engine: Engine) -> None:
    def snapshot():
        return {
            p: p.stat().st_mtime_ns for p in bundled_settings.index_dir.rglob("*") if p.is_file()
        }

    before = snapshot()
    engine = Engine.open(bundled_settings)
    engine.search("認知症")
    engine.close()
    assert snapshot() == before
