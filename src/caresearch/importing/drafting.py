"""A found case → a draft case file (a dict in the corpus format, and its YAML text)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..fields import PREFECTURE_REGION
from . import layout as L
from . import sections as S
from .finding import CaseLines
from .repair import Line

LOST_HALFWIDTH = re.compile(
    r"(?:平成|令和|昭和)[ \t]+(?:年|～)|第[ \t]+期|約[ \t]+[人名ヵか]|（[ \t]*）"
)
REVIEW_THEMES = "テーマは本文の語から推定した候補です。内容に合うものだけを残してください"


def build_case(
    found: CaseLines,
    *,
    case_id: str,
    order: int,
    source_file: str,
    themes: Sequence[str],
    document_place: Line | None = None,
) -> tuple[dict[str, Any], dict[str, int]]:
    """(case dict, passages per section). `document_place`: the line before the first case
    that names the document's town (長野県青葉町 健康福祉課), for a case that names none."""
    review = list(found.review)
    keywords: list[str] = []
    if found.keywords is not None:
        m = L.KEYWORDS.match(found.keywords.text.strip())
        raw = (m.group(1) if m else "").strip()
        # 、 or a comma between keywords; ・ joins the words of one (医療・介護連携)
        keywords = [k.strip() for k in re.split(r"[、，,]", raw) if k.strip()]
    if not keywords:
        review.append("キーワードが見つかりません。keywords を書いてください")
    # 「事例１ 住民が運営する…」: the collection's numbering is no part of the case's title
    title = L.CASE_NUMBER.sub("", S.join(found.title).strip(), count=1) or S.join(found.title)
    if not title:
        review.append("タイトルが見つかりません。title を書いてください")
    prefecture, municipality = "", ""
    if found.location is not None:
        m = L.LOCATION.match(found.location.text)
        if m:
            prefecture, municipality = m.group(1), m.group(2)
    if not municipality and document_place is not None:
        m = L.DOCUMENT_PLACE.match(document_place.text)
        if m:
            prefecture, municipality = m.group(1), m.group(2)
            review.append(
                f"事例の中に都道府県・市区町村がないため、文書の冒頭の「{document_place.text}」から"
                "補いました。違っていれば prefecture と municipality を書き直してください"
            )
    if not municipality:
        review.append(
            "都道府県・市区町村名が見つかりません。prefecture と municipality を書いてください"
        )
    diagram: list[list[Line]] = list(found.diagram)
    sec = found.sections

    def items(name: str, *, prose: bool = False) -> list[str]:
        parsed = S.items(sec.get(name, []), found, prose=prose)
        diagram.extend(parsed.diagram)
        return parsed.texts

    features = items("features")
    bodies_parsed = S.bodies(sec.get("bodies", []), found)
    diagram.extend(bodies_parsed.diagram)
    background = items("background")
    summary = "".join(S.unbullet(S.join([ln])) for ln in sec.get("summary", [])) or None
    recommendation = "".join(S.unbullet(S.join([ln])) for ln in sec.get("recommendation", []))
    contents_parsed = S.contents(sec.get("contents", []), found)
    diagram.extend(contents_parsed.diagram)
    history_parsed = S.history(sec.get("history", []), found)
    diagram.extend(history_parsed.diagram)
    changes = items("changes")
    stories_parsed = S.stories(sec.get("stories", []), found)
    diagram.extend(stories_parsed.diagram)
    kp_region = items("kp_region")
    kp_municipality = items("kp_municipality")
    suggestions = items("suggestions")
    contact_parsed = S.items(sec.get("contact", []), found)
    contact = contact_parsed.texts[0] if contact_parsed.texts else None
    diagram.extend(contact_parsed.diagram)
    for extra in contact_parsed.texts[1:]:
        review.append(f"連絡先の後の文章を図の語句として扱いました: 「{extra[:30]}」")
        diagram.append([Line(0, 0, extra, extra)])
    if sec.get("center_table"):
        diagram.append(sec["center_table"])
    overview = S.overview(sec.get("overview", []))

    for name, lst in (
        ("kp_region", kp_region),
        ("kp_municipality", kp_municipality),
        ("suggestions", suggestions),
    ):
        if not lst:
            review.append(
                f"{L.SECTION_NAMES[name]}が見つかりません。原本で確かめて書き加えてください"
            )
    if not features:
        review.append("この事例の特徴が見つかりません")
    if sec.get("overview") and not overview:
        review.append(
            "地域概要（総人口など）の数値が読み取れませんでした。原本の数値を書き加えるか、そのままにしてください"
        )
    all_text = "\n".join(ln.text for ln in found.lines)
    lost = LOST_HALFWIDTH.search(all_text)
    if lost:
        review.append(
            f"半角の数字・英字が抜けているようです（例: 「{lost.group().strip()}」）。"
            "原本で確かめ、補った語は restorations に記録してください"
        )
    diagram_texts = [" ".join(ln.text for ln in run if ln.text) for run in diagram]
    diagram_texts = [t for t in diagram_texts if t.strip()]
    if diagram_texts:
        n = sum(len(run) for run in diagram)
        review.append(
            f"図・表の中の語句とみなした {n} 行を diagram_text（検索用。事例ページでは折りたたんで表示）に入れました。"
            "本文が混ざっていないか確かめてください"
        )
    review.append(REVIEW_THEMES)

    cid = case_id
    contents_out = []
    for i, s in enumerate(contents_parsed.texts, 1):
        contents_out.append(
            {
                "id": f"{cid}-sec-{i}",
                "heading": s["heading"],
                "subheading": s["subheading"],
                "paragraphs": s["paragraphs"],
                "budget": s["budget"],
            }
        )
    pages = sorted({ln.page for ln in found.lines if ln.page})
    numbers = [ln.n for ln in found.lines if ln.n]
    case: dict[str, Any] = {
        "id": cid,
        "order": order,
        "reviewed": False,
        "review": review,
        "prefecture": prefecture or "（都道府県）県",
        "municipality": municipality or "（市区町村）市",
        "municipality_type": _municipality_type(municipality),
        "region": PREFECTURE_REGION.get(prefecture, "北海道"),
        "title": title or "（タイトル）",
        "keywords": keywords or ["（キーワード）"],
        "editorial_keywords": [],
        "themes": list(themes),
        "features": _ids(cid, "feat-", features),
        "implementing_bodies": bodies_parsed.texts,
        "background": _ids(cid, "bg-", background),
        "recommendation": recommendation or None,
        "summary": summary,
        "contents": contents_out,
        "history": [
            {"id": f"{cid}-ev-{i}", "period": period, "text": text}
            for i, (period, text) in enumerate(history_parsed.texts, 1)
            if text
        ],
        "outcomes": {
            "changes": _ids(cid, "chg-", changes),
            "stories": [
                {"id": f"{cid}-story-{i}", **st} for i, st in enumerate(stories_parsed.texts, 1)
            ],
        },
        "key_points": {
            "region": _ids(cid, "kp-r", kp_region),
            "municipality": _ids(cid, "kp-m", kp_municipality),
        },
        "suggestions_label": found.suggestions_label
        or "これから取り組む皆さまへ～まず始めてみるために",
        "suggestions": _ids(cid, "sg-", suggestions),
        "contact": contact,
        "diagram_text": diagram_texts,
        "restorations": [],
        "overview": overview,
        "source": {
            "report": Path(source_file).stem,
            "chapter": None,
            "pages": _page_range(pages),
            "file": source_file,
            "sha256": None,
            "lines": [[min(numbers), max(numbers)]] if numbers else [],
        },
        "quality_notes": [],
        "figures_missing": False,
    }
    if not prefecture:
        case["region"] = "北海道"
    counts = {
        "features": len(features),
        "background": len(background),
        "recommendation": int(bool(recommendation)),
        "summary": int(bool(summary)),
        "contents": len(contents_out),
        "history": len(case["history"]),
        "changes": len(changes),
        "stories": len(stories_parsed.texts),
        "kp_region": len(kp_region),
        "kp_municipality": len(kp_municipality),
        "suggestions": len(suggestions),
        "diagram": len(diagram_texts),
    }
    return case, counts


def _ids(cid: str, prefix: str, texts: list[str]) -> list[dict[str, str]]:
    return [{"id": f"{cid}-{prefix}{i}", "text": t} for i, t in enumerate(texts, 1)]


def _municipality_type(municipality: str) -> str | None:
    if not municipality:
        return None
    if municipality.endswith("区"):
        return "特別区"
    return municipality[-1] if municipality[-1] in "市町村" else None


def _page_range(pages: list[int]) -> str | None:
    if not pages:
        return None
    return str(pages[0]) if pages[0] == pages[-1] else f"{pages[0]}-{pages[-1]}"


def propose_themes(text: str, labels: Sequence[str]) -> list[str]:
    """Themes whose words occur often in the case's text (at least one, at most THEME_MAX)."""
    hits: Counter[str] = Counter()
    for label in labels:
        words = L.THEME_WORDS.get(label, (label,))
        hits[label] = sum(text.count(w) for w in words)
    ranked = [t for t, n in hits.most_common() if n >= L.THEME_MIN_HITS]
    if not ranked:
        ranked = [t for t, n in hits.most_common(1) if n > 0] or list(labels[:1])
    return ranked[: L.THEME_MAX]


def propose_lesson_themes(case: dict[str, Any]) -> None:
    """Give each key point and suggestion the case's themes whose words it says (the lessons
    page filters lessons by their own themes); none when it says none of them."""
    kp = case["key_points"]
    for item in [*kp["region"], *kp["municipality"], *case["suggestions"]]:
        item["themes"] = [
            t for t in case["themes"] if any(w in item["text"] for w in L.THEME_WORDS.get(t, (t,)))
        ]


def case_text(case: dict[str, Any]) -> str:
    """The passage text of a case dict (for theme proposal)."""
    parts: list[str] = [case["title"], *case["keywords"]]
    for key in ("features", "background", "suggestions"):
        parts += [x["text"] for x in case[key]]
    parts += [x["text"] for x in case["outcomes"]["changes"]]
    for key in ("region", "municipality"):
        parts += [x["text"] for x in case["key_points"][key]]
    for s in case["contents"]:
        parts += [s["heading"], *s["paragraphs"]]
    parts += [e["text"] for e in case["history"]]
    for s in case["outcomes"]["stories"]:
        parts += s["paragraphs"]
    parts += [case.get("recommendation") or "", case.get("summary") or ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- YAML


class _Dumper(yaml.SafeDumper):
    """Readable Japanese YAML: multi-line strings as literal blocks, [a, b] pairs inline."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    )


def _list(dumper: yaml.SafeDumper, value: list) -> yaml.Node:
    flow = bool(value) and all(isinstance(x, int) for x in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)

HEADER = (
    "# 下書き: {file}{pages} から `caresearch import` で取り込んだ事例です。\n"
    "# review の各項目を原本と照らして直し、済んだら項目を消すか reviewed: true にしてください。\n"
    "# review が残っていて reviewed: false のあいだは、索引（caresearch build）に入りません。\n"
)


def case_yaml(case: dict[str, Any]) -> str:
    """A case dict as a case file's YAML, fields in dict order (tools/build_corpus.py writes
    the bundled cases with it too)."""
    return yaml.dump(
        case, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1_000_000, indent=2
    )


def dump_case(case: dict[str, Any]) -> str:
    body = case_yaml(case)
    pages = case["source"].get("pages")
    return (
        HEADER.format(file=case["source"]["file"], pages=f"（{pages}ページ）" if pages else "")
        + body
    )
