"""Deterministic synthetic corpora for the benchmark, built from the bundled cases' sentences.

    .venv/bin/python bench/synth.py 1000 /tmp/syn1000          # writes cases/*.yaml + themes.yaml
    .venv/bin/python bench/synth.py 1000 /tmp/syn1000 --seed 7

Each synthetic case has the structure of a real one (features, background, recommendation,
summary, contents sections with headings and paragraphs, history, changes, stories, key points
for region and municipality, suggestions, contact, diagram text, source) and about 5,000
characters of text (uniform 4,500-5,500). Sentences (texts split on 。) are drawn from the same
section of the bundled cases, so key points read like key points and stories like stories.
Prefecture / municipality / region come from the real cases, themes from corpus/themes.yaml.
Every case is generated from its own random.Random("<seed>:<n>"), so case n is the same in
every corpus size and run. The output passes `caresearch validate`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.append(str(ROOT / "src"))  # normally the editable install provides it

from caresearch.corpus import load_corpus, load_themes  # noqa: E402

Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
TARGET_CHARS = (4500, 5500)  # uniform; the bundled cases hold 3,900-5,600 characters of text


def sentences(text: str) -> list[str]:
    """Split on 。 keeping it; lines inside a text count as separate pieces."""
    out: list[str] = []
    for line in text.split("\n"):
        parts = line.split("。")
        for i, p in enumerate(parts):
            p = p.strip()
            if p:
                out.append(p + ("。" if i < len(parts) - 1 else ""))
    return out


@dataclass
class Pools:
    """Sentences and labels of the bundled cases, per section."""

    places: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    subheadings: list[str] = field(default_factory=list)
    budgets: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)
    story_titles: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    diagram: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    section: dict[str, list[str]] = field(default_factory=dict)
    all: list[str] = field(default_factory=list)

    def pick(self, r: random.Random, name: str) -> str:
        pool = self.section.get(name) or self.all
        # small pools (recommendation, summary) borrow from everything now and then
        if len(pool) < 30 and r.random() < 0.5:
            pool = self.all
        return r.choice(pool)


def load_pools(corpus_dir: Path) -> Pools:
    cases = load_corpus(corpus_dir)
    p = Pools(labels=list(load_themes(corpus_dir)))
    sec: dict[str, list[str]] = {}

    def add(name: str, text: str | None) -> None:
        if text:
            sec.setdefault(name, []).extend(sentences(text))

    for c in cases:
        p.places.append((c.prefecture, c.municipality, c.municipality_type, c.region))
        p.titles.append(c.title)
        p.keywords.extend(c.keywords)
        p.bodies.extend(c.implementing_bodies)
        if c.contact:
            p.contacts.append(c.contact)
        for it in c.features:
            add("feature", it.text)
        for it in c.background:
            add("background", it.text)
        add("recommendation", c.recommendation)
        add("summary", c.summary)
        for s in c.contents:
            p.headings.append(s.heading)
            if s.subheading:
                p.subheadings.append(s.subheading)
            if s.budget:
                p.budgets.append(s.budget)
            for para in s.paragraphs:
                add("content", para)
        for ev in c.history:
            p.periods.append(ev.period_label)
            sec.setdefault("history", []).extend(x for x in ev.text.split("\n") if x.strip())
        for it in c.changes:
            add("change", it.text)
        for st in c.stories:
            if st.title:
                p.story_titles.append(st.title)
            if st.subject:
                p.subjects.append(st.subject)
            for para in st.paragraphs:
                add("story", para)
        for les in c.key_points:
            add(f"kp_{les.audience}", les.text)
        for les in c.suggestions:
            sec.setdefault("suggestion", []).append(les.text)
        for d in c.diagram_text:
            add("diagram", d)
    p.section = {k: list(dict.fromkeys(v)) for k, v in sec.items()}
    p.all = list(dict.fromkeys(s for v in p.section.values() for s in v))
    p.diagram = p.section.get("diagram", [])
    p.keywords = list(dict.fromkeys(p.keywords))
    p.bodies = list(dict.fromkeys(p.bodies))
    return p


def _text(r: random.Random, pools: Pools, name: str, lo: int, hi: int) -> str:
    return "".join(pools.pick(r, name) for _ in range(r.randint(lo, hi)))


def make_case(n: int, pools: Pools, seed: int) -> tuple[dict, int]:
    """The case document for number n (1-based) and its character count."""
    r = random.Random(f"{seed}:{n}")
    cid = f"syn{n:05d}"
    pref, muni, mtype, region = r.choice(pools.places)
    size = 0

    def t(name: str, lo: int = 1, hi: int = 1) -> str:
        nonlocal size
        s = _text(r, pools, name, lo, hi)
        size += len(s)
        return s

    def items(prefix: str, name: str, lo: int, hi: int, slo: int = 1, shi: int = 2) -> list[dict]:
        return [
            {"id": f"{cid}-{prefix}{i}", "text": t(name, slo, shi)}
            for i in range(1, r.randint(lo, hi) + 1)
        ]

    title = r.choice(pools.titles + pools.section.get("feature", []))[:60].rstrip("。")
    keywords = r.sample(pools.keywords, r.randint(3, 5))
    themes = r.sample(pools.labels, r.randint(2, 5))
    size += len(title) + sum(map(len, keywords))
    contents = []
    for i in range(1, r.randint(2, 4) + 1):
        contents.append(
            {
                "id": f"{cid}-sec-{i}",
                "heading": r.choice(pools.headings),
                "subheading": r.choice(pools.subheadings) if r.random() < 0.7 else None,
                "paragraphs": [t("content", 1, 3) for _ in range(r.randint(2, 3))],
                "budget": r.choice(pools.budgets) if pools.budgets and r.random() < 0.2 else None,
            }
        )
    history = [
        {
            "id": f"{cid}-ev-{i}",
            "period": r.choice(pools.periods),
            "text": "\n".join(pools.pick(r, "history") for _ in range(r.randint(1, 3))),
        }
        for i in range(1, r.randint(2, 7) + 1)
    ]
    size += sum(len(h["text"]) for h in history)
    stories = [
        {
            "id": f"{cid}-story-{i}",
            "title": r.choice(pools.story_titles),
            "subject": r.choice(pools.subjects) if r.random() < 0.7 else None,
            "paragraphs": [t("story", 1, 3) for _ in range(r.randint(1, 3))],
        }
        for i in range(1, r.randint(1, 2) + 1)
    ]
    doc = {
        "id": cid,
        "order": 1000 + n,
        "prefecture": pref,
        "municipality": muni,
        "municipality_type": mtype,
        "region": region,
        "title": title,
        "keywords": keywords,
        "editorial_keywords": [],
        "themes": themes,
        "features": items("feat-", "feature", 2, 3, 1, 1),
        "implementing_bodies": r.sample(pools.bodies, r.randint(1, 3)),
        "background": items("bg-", "background", 2, 4),
        "recommendation": t("recommendation", 1, 3),
        "summary": t("summary", 1, 2) if r.random() < 0.6 else None,
        "contents": contents,
        "history": history,
        "outcomes": {"changes": items("chg-", "change", 1, 4), "stories": stories},
        "key_points": {
            "region": items("kp-r", "kp_region", 1, 4, 1, 3),
            "municipality": items("kp-m", "kp_municipality", 2, 5, 1, 3),
        },
        "suggestions_label": "これから取り組む皆さまへ～まず始めてみるために",
        "suggestions": items("sg-", "suggestion", 3, 4, 1, 1),
        "contact": r.choice(pools.contacts),
        "diagram_text": [t("diagram", 2, 6)] if pools.diagram and r.random() < 0.8 else [],
        "restorations": [],
        "source": {
            "report": f"合成事例（bench/synth.py, seed={seed}）",
            "chapter": None,
            "pages": None,
        },
        "quality_notes": [],
        "figures_missing": False,
    }
    # Grow the contents (and sometimes a story) until the case reaches its target size.
    target = r.randint(*TARGET_CHARS)
    while size < target:
        if r.random() < 0.8:
            paras = r.choice(contents)["paragraphs"]
            kind = "content"
        else:
            paras = r.choice(stories)["paragraphs"]
            kind = "story"
        s = pools.pick(r, kind)
        size += len(s)
        if r.random() < 0.3:
            paras.append(s)
        else:
            paras[-1] += s
    return doc, size


def generate(n: int, out: Path, *, seed: int = 1, source: Path = ROOT / "corpus") -> dict:
    """Write n cases to out/cases/ and copy the themes; returns counts and timings."""
    started = time.perf_counter()
    pools = load_pools(source)
    out = Path(out)
    cases_dir = out / "cases"
    if cases_dir.exists():
        shutil.rmtree(cases_dir)
    cases_dir.mkdir(parents=True)
    shutil.copyfile(source / "themes.yaml", out / "themes.yaml")
    total = 0
    nbytes = 0
    for i in range(1, n + 1):
        doc, size = make_case(i, pools, seed)
        total += size
        data = yaml.dump(doc, Dumper=Dumper, allow_unicode=True, sort_keys=False, width=1000)
        raw = data.encode("utf-8")
        nbytes += len(raw)
        (cases_dir / f"{doc['id']}.yaml").write_bytes(raw)
    return {
        "cases": n,
        "chars": total,
        "chars_per_case": round(total / max(n, 1)),
        "bytes": nbytes,
        "seconds": round(time.perf_counter() - started, 3),
        "seed": seed,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("n", type=int, help="number of cases")
    ap.add_argument("out", type=Path, help="corpus directory to write (cases/ is replaced)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    info = generate(args.n, args.out, seed=args.seed)
    print(
        f"wrote {info['cases']} cases, {info['chars_per_case']} chars/case, "
        f"{info['bytes'] / 1e6:.1f} MB in {info['seconds']:.1f} s to {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
