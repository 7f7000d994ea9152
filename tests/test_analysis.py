"""The Japanese analyzer (caresearch.analysis) and the curated synonym table it is used with."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from caresearch.analysis import Analyzer, fold, sentences, surface_analyzer
from caresearch.corpus import load_corpus
from caresearch.synonyms import DEFAULT_PATH, SynonymTable

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

# Text a user never needs to find: particles, auxiliaries, punctuation, whitespace.
NOISE = {
    "の",
    "を",
    "は",
    "が",
    "に",
    "で",
    "と",
    "へ",
    "た",
    "だ",
    "です",
    "ます",
    "、",
    "。",
    "！",
    "？",
}


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    """Every passage of the bundled corpus: real text with every kind of awkwardness."""
    return [p.text for c in load_corpus(CORPUS) for p in c.passages()]


def keys(analyzer: Analyzer, text: str) -> list[str]:
    return [t.text for t in analyzer.tokens(text)]


# --- Sudachi configuration -----------------------------------------------------------------


def test_yomigana_gloss_in_brackets_is_kept(analyzer: Analyzer) -> None:
    text = "介護支援専門員（ケアマネ）と連携する"
    tokens = analyzer.tokens(text)
    assert "ケアマネ" in [t.text for t in tokens]
    (kept,) = [t for t in tokens if t.text == "ケアマネ"]
    assert text[kept.start : kept.end] == "ケアマネ"
    # the glossed word is still there too
    assert {"介護", "支援"} <= set(analyzer.terms(text))


# --- keys: normalized form, NFKC, lower case -----------------------------------------------


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("ｹｱﾏﾈ", "ケアマネ"),  # half-width kana
        ("ﾃﾞｲｻｰﾋﾞｽ", "デイサービス"),  # half-width kana with voicing marks
        ("ＩＣＴ", "ICT"),  # full-width Latin
        ("Ｉｃｔ", "ict"),  # case
        ("２４時間", "24時間"),  # full-width digits
        ("みまもり", "見守り"),  # kana spelling → Sudachi's normalized form
        ("引越し", "引っ越し"),  # okurigana variant
        ("シュミレーション", "シミュレーション"),  # common misspelling Sudachi normalizes
        ("コミュニティ", "コミュニティー"),  # long vowel mark
    ],
)
def test_spelling_variants_share_one_index_key(
    analyzer: Analyzer, variant: str, canonical: str
) -> None:
    assert keys(analyzer, variant) == keys(analyzer, canonical)
    assert keys(analyzer, variant)  # and it is a content word, not dropped


def test_keys_are_nfkc_and_lower_case(analyzer: Analyzer) -> None:
    assert keys(analyzer, "ｹｱﾏﾈ") == ["ケアマネ"]
    assert keys(analyzer, "ＩＣＴ") == ["ict"]
    for text in ("ＩＣＴを活用したｹｱﾏﾈ支援", "ＮＰＯ法人とＡさん"):
        for key in analyzer.terms(text):
            assert key == unicodedata.normalize("NFKC", key).lower()


def test_fold_is_nfkc_plus_lower_case() -> None:
    assert fold("ＩＣＴ") == "ict"
    assert fold("ｹｱﾏﾈ") == "ケアマネ"
    assert fold("ケアマネ") == "ケアマネ"


def test_normalized_form_is_what_differs_from_the_surface_baseline(analyzer: Analyzer) -> None:
    # The baseline keeps what was written; the default analyzer files both under one key.
    baseline = surface_analyzer()
    assert keys(baseline, "みまもり") != keys(baseline, "見守り")
    assert keys(analyzer, "みまもり") == keys(analyzer, "見守り")


# --- compounds and their parts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("compound", "parts"),
    [("認知症", ["認知", "症"]), ("社会福祉協議会", ["社会", "福祉", "協議", "会"])],
)
def test_compound_and_its_parts_are_all_indexed(
    analyzer: Analyzer, compound: str, parts: list[str]
) -> None:
    terms = analyzer.terms(f"{compound}の支援")
    assert compound in terms
    for part in parts:
        assert part in terms


def test_parts_share_the_offsets_of_their_compound(analyzer: Analyzer) -> None:
    text = "地域の認知症カフェ"
    by_term = {term: (s, e) for term, _pos, s, e in analyzer.index_terms(text)}
    start = text.index("認知症")
    assert by_term["認知症"] == by_term["認知"] == by_term["症"] == (start, start + 3)


def test_positions_make_parts_of_a_compound_adjacent(analyzer: Analyzer) -> None:
    """A phrase of parts must match inside the compound: 認知 then 症 at consecutive positions."""
    pos = {term: p for term, p, _s, _e in analyzer.index_terms("認知症カフェ")}
    assert pos["症"] == pos["認知"] + 1
    assert pos["カフェ"] == pos["症"] + 1
    assert pos["認知症"] == pos["認知"]


# --- the POS stop filter ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["の", "を", "の を", "！？", "!?", "。、", "　", " \t\n", ""])
def test_particles_symbols_and_whitespace_leave_nothing(analyzer: Analyzer, text: str) -> None:
    assert analyzer.tokens(text) == []


def test_content_words_survive_the_stop_filter(analyzer: Analyzer) -> None:
    text = "認知症の人を、地域で支えます。"
    got = keys(analyzer, text)
    assert "認知症" in got and "地域" in got
    assert not NOISE & set(got)


def test_no_token_is_noise_anywhere_in_the_corpus(
    analyzer: Analyzer, corpus_texts: list[str]
) -> None:
    for text in corpus_texts:
        for t in analyzer.tokens(text):
            assert t.text.strip(), (text, t)
            assert t.text not in NOISE, (text, t)


# --- offsets -----------------------------------------------------------------------------------


def test_offsets_point_at_the_surface_in_the_original_text(
    analyzer: Analyzer, corpus_texts: list[str]
) -> None:
    awkward = [
        "ｹｱﾏﾈと住民がつくる みまもり ネットワーク",
        "ＩＣＴの連絡帳で２４時間",
        "𠮷野家で𩸽を食べる高齢者",
    ]
    for text in [*awkward, *corpus_texts]:
        for t in analyzer.tokens(text):
            assert text[t.start : t.end] == t.surface, (text, t)


@pytest.mark.parametrize(
    "unit",
    [
        "認知症の高齢者を地域で見守る取り組みを進めています。",  # sentence ends to cut at
        "地域包括支援センター",  # no sentence ends at all: hard cuts
        "𠮷野家の介護予防教室\n",  # 4-byte characters (more UTF-8 bytes per character)
    ],
)
def test_long_text_is_chunked_with_exact_offsets(analyzer: Analyzer, unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    assert len(text) == 100_000
    tokens = analyzer.tokens(text)
    assert tokens
    last = 0
    for t in tokens:
        assert text[t.start : t.end] == t.surface
        assert t.start >= last  # in order, never overlapping
        last = t.end
    # the whole text was read: the last content word sits near its end
    assert tokens[-1].end > len(text) - 2 * len(unit)


# --- threads -----------------------------------------------------------------------------------


def test_concurrent_tokenizing_equals_serial(analyzer: Analyzer, corpus_texts: list[str]) -> None:
    texts = corpus_texts * 2
    serial = [analyzer.tokens(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(analyzer.tokens, texts))
    assert parallel == serial


def test_analyzer_works_in_a_fresh_thread(analyzer: Analyzer) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        got = pool.submit(analyzer.terms, "認知症カフェ").result()
    assert got == analyzer.terms("認知症カフェ")


def test_analyzers_compare_by_settings() -> None:
    assert Analyzer() == Analyzer()
    assert hash(Analyzer()) == hash(Analyzer())
    assert Analyzer() != Analyzer(split_parts=False)
    assert Analyzer().settings_key() == Analyzer().settings_key()
    assert Analyzer().settings_key() != Analyzer(split_parts=False).settings_key()


# --- the synonym table (src/caresearch/data/synonyms.yaml) -------------------------------------


@pytest.fixture(scope="module")
def table() -> SynonymTable:
    return SynonymTable.load()


def test_synonym_table_loads_with_at_least_80_groups(table: SynonymTable) -> None:
    assert DEFAULT_PATH.is_file()
    assert len(table) >= 80
    assert all(len(group) >= 2 for group in table.groups)


def test_no_term_is_in_two_synonym_groups(table: SynonymTable, analyzer: Analyzer) -> None:
    by_spelling: dict[str, set[int]] = defaultdict(set)
    by_key: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for i, group in enumerate(table.groups):
        for term in group:
            by_spelling[fold(term)].add(i)
            by_key[tuple(keys(analyzer, term))].add(i)
    assert {t: g for t, g in by_spelling.items() if len(g) > 1} == {}
    # nor two spellings that the analyzer files under one key (expansion would chain)
    assert {k: g for k, g in by_key.items() if len(g) > 1} == {}


def test_every_synonym_term_is_a_content_word(table: SynonymTable, analyzer: Analyzer) -> None:
    assert [t for g in table.groups for t in g if not analyzer.tokens(t)] == []


@pytest.mark.parametrize(
    ("term", "other"),
    [("ケアマネ", "介護支援専門員"), ("社協", "社会福祉協議会"), ("包括", "地域包括支援センター")],
)
def test_issue_examples_are_in_one_group(table: SynonymTable, term: str, other: str) -> None:
    assert any(term in g and other in g for g in table.groups)


def test_broken_synonym_table_is_a_corpus_error(tmp_path: Path) -> None:
    from caresearch.errors import CorpusError

    for text in ("groups: [[ケアマネ]]\n", "- [a, b]\n", "groups: [[a, '']]\n", "groups: [\n"):
        path = tmp_path / "synonyms.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(CorpusError):
            SynonymTable.load(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "医者が足りない。夜は誰も来てくれない！どうすれば？",
            ["医者が足りない。", "夜は誰も来てくれない！", "どうすれば？"],
        ),
        ("一行目\n二行目。三文目", ["一行目", "二行目。", "三文目"]),
        ("区切りのない一文", ["区切りのない一文"]),
        ("。。！ \n", []),  # marks alone are no sentence
        ("一文目。\r\n二文目。", ["一文目。", "二文目。"]),  # a browser's line ends
        ("1．5倍になった．次の文", ["1．5倍になった．", "次の文"]),  # ． ends one, not 1．5
        ("同じ文。同じ文。違う文", ["同じ文。", "違う文"]),  # each once
    ],
)
def test_a_description_splits_into_its_sentences(text, expected):
    assert sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "grammar"),
    [
        ("について", True),
        ("による", True),
        ("として", True),
        ("する", True),
        ("もの", True),
        ("認知症", False),
        ("見守り", False),
        ("かよいのば", False),  # a kana phrase, not a compound particle
        ("にんちしょう", False),
        ("ひと", False),
        ("はあく", False),  # 把握 in kana: は is not a case particle here
        ("もでる", False),
    ],
)
def test_grammar_words_are_told_from_content_words(text: str, grammar: bool) -> None:
    assert Analyzer().is_grammar(text) is grammar


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("地域包括ケアシステム庁内推進協議会を設置", "庁内"),  # Sudachi: the suffixes 庁 + 内
        ("地域包括ケアシステム推進庁内連絡協議会", "庁内"),
    ],
)
def test_a_word_cut_into_two_suffixes_by_its_context_is_one_word(
    analyzer: Analyzer, text: str, word: str
) -> None:
    # 庁内 alone is one word; after a long noun Sudachi reads it as two suffixes and the
    # second (内) is a stop word: the text must still hold 庁内 as 庁内 elsewhere is held
    assert analyzer.tokens("庁内で検討")[0].text == word
    tokens = analyzer.tokens(text)
    joined = [t for t in tokens if t.text == word]
    assert joined and text[joined[0].start : joined[0].end] == word


def test_two_suffixes_the_dictionary_does_not_know_as_one_stay_apart(analyzer: Analyzer) -> None:
    # 支援員等: Sudachi reads 支援 + the suffixes 員 + 等; 員等 is no word, so nothing is joined
    terms = [t.text for t in analyzer.tokens("支援員等の配置")]
    assert "員等" not in terms and terms[0] == "支援" and "員" in terms


@pytest.mark.parametrize(
    ("surface", "verb"),
    [("借り上げ", "借り上げる"), ("取り組み", "取り組む"), ("見守り", "見守る")],
)
def test_a_noun_in_a_verb_stem_form_names_its_verb(
    analyzer: Analyzer, surface: str, verb: str
) -> None:
    found = analyzer.verb_of(surface)
    assert found is not None and found.text == verb and found.surface == surface


@pytest.mark.parametrize("surface", ["", "し", "ます", "住宅", "読み書き", "借り上げ\n"])
def test_what_is_no_verb_stem_names_no_verb(analyzer: Analyzer, surface: str) -> None:
    assert analyzer.verb_of(surface) is None
