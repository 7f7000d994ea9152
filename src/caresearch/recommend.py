"""From a description of a local problem to the cases and lessons that answer it.

`Recommender` follows scikit-learn's conventions: `__init__` stores settings, `fit(cases, ...)`
learns TF-IDF at case level and at passage level (learned attributes end in `_`), and the
fitted object pickles (its analyzer is a module-level function). The only module that imports
scikit-learn. The engine fuses its ranking with the BM25 index by reciprocal rank fusion; see
docs/recommend.md for the choice and the measurements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .analysis import Token
from .models import Case, Passage

# Nouns too general to say what a description is about; they never count towards coverage.
GENERIC_NOUNS = frozenset(
    [
        "平成",
        "令和",
        "昭和",
        "当時",
        "程度",
        "様々",
        "方法",
        "仕方",
        "やり方",
        "事例",
        "話",
        "人",
        "方",
        "取り組み",
        "取組",
        "自治体",
        "課題",
        "状況",
        "必要",
        "場合",
        "今後",
        "内容",
        "部分",
        "様子",
        "点",
        "面",
        "中",
        "上",
        "下",
        "前",
        "後",
        "間",
        "他",
        "全体",
        "問題",
        "現状",
        "結果",
        "参考",
        "例",
        "具体",
        "年",
        "月",
        "日",
        "度",
        "年度",
        "以前",
        "以降",
        "何",
        "誰",
        "毎年",
        "最近",
        "成功",
        "工夫",
        "一つ",
        "皆",
        "全て",
        "全部",
        "多く",
        "各",
        "等",
        "ほか",
        "手",
        "目",
        "気",
        "声",
        "形",
        "的",
        "性",
        "化",
        "者",
        "員",
    ]
)
TOPIC_POS = frozenset({"名詞", "形状詞"})
MIN_REASON_IDF = 2.5  # a word in more than about a fifth of all passages explains nothing
LESSON_SECTIONS = ("key_point", "suggestion")
# Passages that answer a problem, in the order the issue asks for: lessons, then concrete 工夫.
ANSWER_SECTIONS = {"key_point": 1.0, "suggestion": 1.0, "content": 0.8}


def identity(terms: list[str]) -> list[str]:
    """TfidfVectorizer analyzer for pre-analysed term lists (module-level so it pickles)."""
    return terms


def is_topic(token: Token) -> bool:
    """A word that says what a description is about: a specific noun, not filler."""
    return (
        token.pos[0] in TOPIC_POS
        and token.pos[1] not in ("数詞", "助動詞語幹")
        and token.text not in GENERIC_NOUNS
        and not token.text.isdigit()
    )


@dataclass(frozen=True)
class CaseScore:
    case_id: str
    cosine: float
    coverage: float  # idf-weighted share of the description's terms found in the case
    matched: tuple[str, ...]  # description terms found in the case, most informative first


class Recommender:
    def __init__(self, sublinear_tf: bool = True, title_weight: int = 2) -> None:
        self.sublinear_tf = sublinear_tf
        self.title_weight = title_weight

    def fit(
        self,
        cases: Sequence[Case],
        terms: Mapping[str, list[str]],
        topics: frozenset[str] = frozenset(),
    ) -> Recommender:
        """Learn from `cases`; `terms` maps every passage text (and title) to its terms.

        `topics` are the terms that can explain a similarity to a person (specific nouns).
        """
        self.topic_terms_ = frozenset(topics)
        self.case_ids_ = tuple(c.id for c in cases)
        passages: list[Passage] = [p for c in cases for p in c.passages()]
        self.passage_ids_ = tuple(p.id for p in passages)
        self.passage_case_ = np.array([self.case_ids_.index(p.case_id) for p in passages])
        self.passage_section_ = tuple(p.section for p in passages)
        passage_terms = [terms[p.text] for p in passages]
        case_terms: list[list[str]] = []
        for c in cases:
            doc = list(terms.get(c.title, [])) * self.title_weight
            for kw in c.keywords + c.editorial_keywords + c.themes:
                doc += terms.get(kw, [])
            doc += [
                t
                for p, pt in zip(passages, passage_terms, strict=True)
                if p.case_id == c.id
                for t in pt
            ]
            case_terms.append(doc)
        # Imported here so that loading a fitted model (at every start) does not import sklearn.
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            analyzer=identity, sublinear_tf=self.sublinear_tf, norm="l2", dtype=np.float32
        )
        self.case_matrix_ = vectorizer.fit_transform(case_terms).tocsr()
        self.passage_matrix_ = vectorizer.transform(passage_terms).tocsr()
        self.case_vocab_ = tuple(frozenset(t) for t in case_terms)
        # Passage-level document frequencies: with few cases, case-level idf is too coarse to
        # tell a telling word from a common one.
        df: dict[str, int] = {}
        for pt in passage_terms:
            for t in set(pt):
                df[t] = df.get(t, 0) + 1
        n = len(passage_terms)
        self.term_idf_ = {t: math.log((n + 1) / (d + 1)) + 1 for t, d in df.items()}
        self.unseen_term_idf_ = math.log(n + 1) + 1
        self.vocabulary_ = {t: int(i) for t, i in vectorizer.vocabulary_.items()}
        self.idf_ = vectorizer.idf_.astype(np.float32)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "vocabulary_"):
            raise RuntimeError("Recommender is not fitted: call fit(cases, terms) first")

    def idf(self, term: str) -> float:
        """Passage-level inverse document frequency; unseen terms weigh most."""
        return self.term_idf_.get(term, self.unseen_term_idf_)

    def query_vector(self, weighted: Mapping[str, float]):
        """A unit-length TF-IDF row for weighted terms (synonym expansions weigh less)."""
        self._check_fitted()
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
    ) -> list[CaseScore]:
        """Cosine and coverage for every case.

        `literal` holds the description's own terms; `expansions` their synonyms as (label,
        terms), which cover a term when all their terms occur; `weighted` is both, synonyms
        with lower weights.
        """
        q = self.query_vector(weighted)
        cosines = np.asarray((self.case_matrix_ @ q.T).todense()).ravel()
        total = sum(self.idf(t) * w for t, w in literal.items()) or 1.0
        out = []
        for i, cid in enumerate(self.case_ids_):
            vocab = self.case_vocab_[i]
            found = [
                t
                for t in literal
                if t in vocab
                or any(all(x in vocab for x in terms) for _l, terms in expansions.get(t, ()))
            ]
            covered = sum(self.idf(t) * literal[t] for t in found)
            found.sort(key=lambda t: -self.idf(t))
            out.append(CaseScore(cid, float(cosines[i]), covered / total, tuple(found)))
        return out

    def score_passages(self, weighted: Mapping[str, float]) -> np.ndarray:
        q = self.query_vector(weighted)
        return np.asarray((self.passage_matrix_ @ q.T).todense()).ravel()


# Reciprocal rank fusion of the TF-IDF and BM25 case rankings. Measured against each signal
# alone and against weighted score sums (docs/recommend.md): as good as the best of them,
# with no weight to tune. k = 60 is the constant of the original paper.
RRF_K = 60


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): Σ 1 / (k + rank)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def top_shared_terms(
    rec: Recommender, a: int, b: int, limit: int = 8
) -> tuple[float, tuple[str, ...]]:
    """Cosine of two fitted cases and the specific words that weigh most in both."""
    rec._check_fitted()
    va, vb = rec.case_matrix_[a], rec.case_matrix_[b]
    both = va.multiply(vb).tocoo()
    inverse = {i: t for t, i in rec.vocabulary_.items()}
    terms: list[str] = []
    for i in np.argsort(-both.data):
        term = inverse[int(both.col[i])]
        # Only words a person reads as a reason: specific nouns, not 地域 or 介護.
        if term in rec.topic_terms_ and len(term) > 1 and rec.idf(term) >= MIN_REASON_IDF:
            terms.append(term)
            if len(terms) == limit:
                break
    return float(both.data.sum()), tuple(terms)
