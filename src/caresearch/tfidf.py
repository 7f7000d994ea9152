"""TF-IDF over cases and answer passages: one scoring signal of the recommender.

`TfidfModel` follows scikit-learn's conventions: `__init__` stores settings, `fit(cases, ...)`
learns TF-IDF at case level and at passage level from the index's term counts (learned
attributes end in `_`), and the fitted object pickles. The only module that imports
scikit-learn, and only inside `fit`, so serving never loads it. How its scores are combined
with BM25 and turned into answers is `recommend.py` and `policy.py`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from .models import ANSWER_WEIGHTS, RECOMMENDER_SECTIONS, Case, Passage, TermCounts
from .policy import MIN_REASON_IDF

# Passages that can answer a problem get a TF-IDF row; the others count towards their case and
# towards document frequencies only. The weights live in the section table (models.SECTIONS).
ANSWER_SECTIONS = frozenset(ANSWER_WEIGHTS)
# Cases at least this similar (cosine of their TF-IDF rows) are shown as similar. Any two of
# the six bundled cases score 0.20-0.23 from the vocabulary all care cases share (地域, 介護,
# 高齢者); the pairs that share a real subject score 0.25-0.31 (鶴岡市-南砺市 医療・介護連携,
# 浦安市-南砺市 住民参加と人材育成, 当別町-楢葉町 拠点と共生). The floor sits in that gap.
MIN_SIMILARITY = 0.24
HIRAGANA_ONLY = re.compile(r"[ぁ-ゖー]+")  # とも, よる: function words, not reasons


def _themed_only(
    case_counts,
    tag_counts,
    themed: Mapping[str, Mapping[str, str]],
    position: Mapping[str, int],
    vocabulary: Mapping[str, int],
) -> dict[int, dict[str, str]]:
    """Per case (by position), the terms of `themed` (each case's theme-label terms, each
    with its label) that it has in its tag lines (`tag_counts`) and nowhere else."""
    said = (case_counts - tag_counts).tocsr()
    said.eliminate_zeros()
    out: dict[int, dict[str, str]] = {}
    for cid, labels in themed.items():
        i = position[cid]
        written = set(said.indices[said.indptr[i] : said.indptr[i + 1]].tolist())
        only = {t: lb for t, lb in labels.items() if vocabulary.get(t, -1) not in written}
        if only:
            out[i] = only
    return out


def _matrix(counts: TermCounts, keep: np.ndarray, vocab_size: int):
    """The documents × terms counts of the entries `keep` selects (CSR)."""
    from scipy.sparse import coo_matrix

    entries = (counts.rows, counts.cols)
    rows, cols = (np.frombuffer(a, dtype=np.int32)[keep] for a in entries)
    values = np.frombuffer(counts.counts, dtype=np.float32)[keep]
    return coo_matrix((values, (rows, cols)), shape=(len(counts.doc_ids), vocab_size)).tocsr()


def _bm25_matrix(counts, df: np.ndarray, n: int, k1: float, b: float):
    """Okapi BM25 (Robertson & Zaragoza 2009) of each row's terms: idf from the document
    frequencies `df` over `n` passages, length normalised within the rows given."""
    m = counts.tocsr().astype(np.float32)
    length = np.asarray(m.sum(axis=1)).ravel()
    avg = float(length.mean()) if len(length) else 1.0
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    tf = m.data
    norm = k1 * (1 - b + b * length[rows] / (avg or 1.0))
    m.data = (idf[m.indices] * tf * (k1 + 1) / (tf + norm)).astype(np.float32)
    return m


def _rows_with(m, column: int | None, rows: np.ndarray | None = None) -> np.ndarray:
    """Boolean per row of the CSC matrix `m` (or per row of the sorted `rows`): a nonzero in
    `column` (None: none). For given rows: a binary search of the rows in the column when they
    are far fewer (its row indices are sorted, as `tocsc` leaves them), else a mark per entry
    of the column; no arithmetic over every row either way."""
    lo, hi = (m.indptr[column], m.indptr[column + 1]) if column is not None else (0, 0)
    col = m.indices[lo:hi]
    if rows is not None and 16 * len(rows) < len(col):
        return col[np.minimum(np.searchsorted(col, rows), len(col) - 1)] == rows
    out = np.zeros(m.shape[0], dtype=bool)
    out[col] = True
    return out if rows is None else out[rows]


def _weighted_columns(m, weights: Mapping[int, float]) -> np.ndarray:
    """Σ weight × column of the CSC matrix `m`, reading only the weighted columns."""
    out = np.zeros(m.shape[0], dtype=np.float32)
    for j, w in weights.items():
        lo, hi = m.indptr[j], m.indptr[j + 1]
        out[m.indices[lo:hi]] += m.data[lo:hi] * np.float32(w)
    return out


def _append_zero_row(m):
    from scipy.sparse import csr_matrix, vstack

    return vstack([m, csr_matrix((1, m.shape[1]), dtype=m.dtype)]).tocsr()


class TfidfModel:
    def __init__(
        self,
        sublinear_tf: bool = True,
        title_weight: int = 2,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
    ) -> None:
        self.sublinear_tf = sublinear_tf
        self.title_weight = title_weight
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b

    def fit(
        self,
        cases: Sequence[Case],
        counts: TermCounts,
        topics: frozenset[str] = frozenset(),
        theme_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> TfidfModel:
        """Learn from `cases` and the index's term counts per document.

        A passage is its document's row; a case is its own document (title, keywords,
        implementing bodies) plus all its passages. `topics` are the terms that can explain a
        similarity to a person (specific nouns); `theme_labels`, per case, the terms its theme
        labels give it (each with its label), of which those it writes nowhere else are kept
        for a reason to name as the theme's (`theme_label`).
        """
        # Imported here so that loading a fitted model (at every start) does not import sklearn.
        from scipy.sparse import csr_matrix
        from sklearn.feature_extraction.text import TfidfTransformer

        self.topic_terms_ = frozenset(topics)
        self.case_ids_ = tuple(c.id for c in cases)
        position = {cid: i for i, cid in enumerate(self.case_ids_)}
        passages: list[Passage] = [
            p for c in cases for p in c.passages() if p.section in RECOMMENDER_SECTIONS
        ]
        # Only passages that can answer a problem get a row: the others count towards their
        # case and towards document frequencies, but are never shown as a lesson.
        answers = [p for p in passages if p.section in ANSWER_SECTIONS]
        self.passage_ids_ = tuple(p.id for p in answers)
        self.passage_case_ = np.array([position[p.case_id] for p in answers], dtype=np.int32)
        self.passage_section_ = tuple(p.section for p in answers)
        # Passages are grouped by case: case i owns passage_start_[i] .. passage_start_[i + 1].
        self.passage_start_ = np.searchsorted(self.passage_case_, np.arange(len(cases) + 1))

        vocab_size = len(counts.vocab)
        keep = np.ones(len(counts.rows), dtype=bool)
        if "diagram" in counts.field_names:  # figure word salad: searchable, but no topic
            diagram = counts.field_names.index("diagram")
            keep = np.frombuffer(counts.fields, dtype=np.int8) != diagram
        docs = _matrix(counts, keep, vocab_size)
        row_of = {doc_id: i for i, doc_id in enumerate(counts.doc_ids)}
        empty = docs.shape[0]  # an all-zero row for anything the index lacks
        docs = _append_zero_row(docs)
        passage_counts = docs[[row_of.get(p.id, empty) for p in passages]]
        owner = csr_matrix(
            (
                np.ones(len(passages), dtype=np.float32),
                ([position[p.case_id] for p in passages], np.arange(len(passages))),
            ),
            shape=(len(cases), len(passages)),
        )
        case_counts = (
            docs[[row_of.get(cid, empty) for cid in self.case_ids_]] + owner @ passage_counts
        )

        transformer = TfidfTransformer(sublinear_tf=self.sublinear_tf, norm="l2")
        transformer.fit(case_counts)
        self.case_matrix_ = transformer.transform(case_counts).astype(np.float32).tocsr()
        is_answer = np.array([p.section in ANSWER_SECTIONS for p in passages], dtype=bool)
        self.passage_matrix_ = (
            transformer.transform(passage_counts[np.flatnonzero(is_answer)])
            .astype(np.float32)
            .tocsr()
        )
        # The same by column: a description's scores and coverage read only its terms' columns.
        self.case_columns_ = self.case_matrix_.tocsc()
        self.vocabulary_ = {t: j for j, t in enumerate(counts.vocab)}
        # Words a case has only through its theme labels (「ICT・情報共有」 on a case that shares
        # information on paper): they count, but a reason names them as the theme's
        self.theme_only_: dict[int, dict[str, str]] = {}
        if theme_labels and "keywords" in counts.field_names:
            tags = np.frombuffer(counts.fields, dtype=np.int8) == counts.field_names.index(
                "keywords"
            )
            tagged = _append_zero_row(_matrix(counts, keep & tags, vocab_size))
            self.theme_only_ = _themed_only(
                case_counts, tagged[[row_of.get(cid, empty) for cid in self.case_ids_]],
                theme_labels, position, self.vocabulary_,
            )  # fmt: skip
        self.idf_ = transformer.idf_.astype(np.float32)
        # Passage-level document frequencies: with few cases, case-level idf is too coarse to
        # tell a telling word from a common one. A term the passages never use weighs most.
        n = len(passages)
        df = np.bincount(passage_counts.indices, minlength=vocab_size)
        self.term_idf_ = (np.log((n + 1) / (df + 1)) + 1).astype(np.float32)
        self.unseen_term_idf_ = math.log(n + 1) + 1
        self.passage_bm25_ = _bm25_matrix(
            passage_counts[np.flatnonzero(is_answer)], df, n, self.bm25_k1, self.bm25_b
        ).tocsc()
        return self

    def check_fitted(self) -> None:
        if not hasattr(self, "vocabulary_"):
            raise RuntimeError("TfidfModel is not fitted: call fit(cases, terms) first")

    def idf(self, term: str) -> float:
        """Passage-level inverse document frequency; unseen terms weigh most."""
        i = self.vocabulary_.get(term)
        return float(self.term_idf_[i]) if i is not None else self.unseen_term_idf_

    def vocab_list(self) -> list[str]:
        """Terms by column (derived once from vocabulary_, not stored twice in the pickle)."""
        cached = self.__dict__.get("_vocab_list")
        if cached is None:
            cached = [""] * len(self.vocabulary_)
            for term, j in self.vocabulary_.items():
                cached[j] = term
            self.__dict__["_vocab_list"] = cached
        return cached

    def __getstate__(self) -> dict:
        # passage_matrix_ (TF-IDF per answer passage) serves only the evaluation's baseline:
        # building.py stores it apart (BASELINE_FILE), so a server never loads it (77 MB at
        # 10,000 cases).
        skip = ("_vocab_list", "passage_matrix_")
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def passages_of(self, case: int) -> range:
        return range(int(self.passage_start_[case]), int(self.passage_start_[case + 1]))

    def passages_of_cases(self, cases: Sequence[int]) -> np.ndarray:
        """The answer passages of `cases`, sorted (a case's passages are consecutive)."""
        spans = [np.arange(r.start, r.stop) for r in map(self.passages_of, sorted(cases))]
        return np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)

    def theme_label(self, case: int, term: str) -> str | None:
        """The theme label through which alone the case has `term` (None: its text has it, or
        it has it not at all)."""
        return self.theme_only_.get(case, {}).get(term)

    def case_has(self, case: int, term: str) -> bool:
        j = self.vocabulary_.get(term)
        if j is None:
            return False
        row = self.case_matrix_
        return j in row.indices[row.indptr[case] : row.indptr[case + 1]]

    def query_vector(self, weighted: Mapping[str, float]):
        """A unit-length TF-IDF row for weighted terms (synonym expansions weigh less)."""
        self.check_fitted()
        from scipy.sparse import csr_matrix

        cols, vals = [], []
        for term, w in weighted.items():
            i = self.vocabulary_.get(term)
            if i is not None and w > 0:
                cols.append(i)
                tf = 1 + math.log(w) if self.sublinear_tf and w >= 1 else w
                vals.append(tf * float(self.idf_[i]))
        row = csr_matrix(
            (np.array(vals, dtype=np.float32), (np.zeros(len(cols), dtype=np.int32), cols)),
            shape=(1, len(self.vocabulary_)),
        )
        norm = math.sqrt(float(row.multiply(row).sum())) or 1.0
        return row / norm

    def score_cases(
        self,
        weighted: Mapping[str, float],
        literal: Mapping[str, float],
        expansions: Mapping[str, Sequence[tuple[str, Sequence[str]]]],
    ) -> tuple[np.ndarray, np.ndarray]:
        """(cosine, coverage) per case, in `case_ids_` order.

        `literal` holds the description's own terms; `expansions` their synonyms as (label,
        terms), which cover a term when all their terms occur; `weighted` is both, synonyms
        with lower weights. Coverage is the idf-weighted share of `literal` a case contains.
        """
        q = self.query_vector(weighted)
        cosines = _weighted_columns(self.case_columns_, dict(zip(q.indices, q.data, strict=True)))
        total = self.coverage_total(literal)
        covered = np.zeros(len(self.case_ids_), dtype=np.float64)
        for t, w in literal.items():
            covered += self.covered(t, expansions.get(t, ())) * (self.idf(t) * w)
        return cosines, covered / total

    def covered(self, term: str, alternatives: Sequence[tuple[str, Sequence[str]]]) -> np.ndarray:
        """Boolean per case: does the case contain `term`, or every term of one of its
        (label, terms) alternatives?"""
        return self._rows_covering(self.case_columns_, term, alternatives)

    def passages_covering(
        self,
        term: str,
        alternatives: Sequence[tuple[str, Sequence[str]]],
        rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """Boolean per answer passage (or per passage of the sorted `rows`), as `covered` is
        per case."""
        return self._rows_covering(self.passage_bm25_, term, alternatives, rows)

    def _rows_covering(
        self,
        m,
        term: str,
        alternatives: Sequence[tuple[str, Sequence[str]]],
        rows: np.ndarray | None = None,
    ) -> np.ndarray:
        present = _rows_with(m, self.vocabulary_.get(term), rows)
        for _label, terms in alternatives:
            both = np.ones(len(present), dtype=bool)
            for x in terms:
                both &= _rows_with(m, self.vocabulary_.get(x), rows)
            present |= both
        return present

    def coverage_total(self, literal: Mapping[str, float]) -> float:
        """The whole that coverage is a share of: the idf-weighted words of a description."""
        return sum(self.idf(t) * w for t, w in literal.items()) or 1.0

    def passage_bm25(self, weights: Mapping[str, float]) -> np.ndarray:
        """Okapi BM25 of every answer passage for weighted query terms: Σ weight × BM25."""
        self.check_fitted()
        q: dict[int, float] = {}
        for term, w in weights.items():
            j = self.vocabulary_.get(term)
            if j is not None:
                q[j] = q.get(j, 0.0) + w
        return _weighted_columns(self.passage_bm25_, q)


def similar_cases(
    rec: TfidfModel, a: int, limit: int = 5, floor: float = MIN_SIMILARITY
) -> list[tuple[int, float]]:
    """Up to `limit` cases most similar to case `a` (cosine of their TF-IDF rows, at least
    `floor`), best first."""
    rec.check_fitted()
    cosines = np.asarray((rec.case_matrix_ @ rec.case_matrix_[a].T).todense()).ravel()
    cosines[a] = -np.inf  # never similar to itself
    return [
        (int(i), float(cosines[i])) for i in top_k(cosines, limit) if i != a and cosines[i] >= floor
    ]


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values, largest first (ties in index order)."""
    idx = np.argpartition(-values, k)[:k] if len(values) > k else np.arange(len(values))
    return idx[np.argsort(-values[idx], kind="stable")]


def top_shared_terms(
    rec: TfidfModel,
    a: int,
    b: int,
    limit: int = 3,
    words: Collection[str] | None = None,
    exclude: Sequence[str] = (),
) -> tuple[str, ...]:
    """The specific words that weigh most in both cases: the reasons they are similar.

    Only whole words (members of `words` when given: the words, not the compound parts, both
    cases use), specific nouns (not 地域 or 介護), none inside a label of `exclude` (the shared
    themes, shown already) and none inside a longer chosen word (専門 of 専門員)."""
    rec.check_fitted()
    both = rec.case_matrix_[a].multiply(rec.case_matrix_[b]).tocoo()
    vocab = rec.vocab_list()
    terms: list[str] = []
    for i in np.argsort(-both.data):
        term = vocab[int(both.col[i])]
        if (
            term in rec.topic_terms_
            and len(term) > 1
            and rec.idf(term) >= MIN_REASON_IDF
            and (words is None or term in words)
            and not HIRAGANA_ONLY.fullmatch(term)
            and not any(term in label for label in exclude)
        ):
            terms.append(term)
            if len(terms) == 4 * limit:
                break
    whole = [t for t in terms if not any(t != other and t in other for other in terms)]
    return tuple(whole[:limit])
