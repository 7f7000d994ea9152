"""Rules on the values of a case file that need a table: placeholders left where a name was
to be written, and a region that is not its prefecture's (the one table of prefectures, which
the importer also reads to fill in a draft's region).

A placeholder is a value that is only a 「（…）」 label, as corpus/TEMPLATE.yaml writes them
(「（事例のタイトル）」「（例）当別町」: its rule is that every 「（…）」 is replaced) and as
`caresearch import` writes a name it could not find (「（タイトル）」「（都道府県）県」, which the
schema's patterns accept). So the rule is the form, not a second list of the same strings:
a value starting 「（例）」 in any name, heading or short value, and a bare 「（…）」 only in the
fields the importer fills so (a heading or a body may well be 「（参考）」 or 「（直営）」, and in
running text a whole paragraph can be a bracketed aside, so prose is never judged).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .models import FACET_BY_KEY, SECTION_LABELS
from .schema import Problem

# The short values an author writes (names, headings, figures), as messages name them; a path
# part ending in [] is each item of a list.
NAME_FIELDS: dict[str, str] = {
    "prefecture": FACET_BY_KEY["prefecture"].label,
    "municipality": "市区町村",
    "title": "タイトル",
    "keywords": FACET_BY_KEY["keyword"].label,
    "editorial_keywords": "編集で補った語",
    "overview": "地域概要",
    "implementing_bodies": "実施主体",
    "contents[].heading": f"「{SECTION_LABELS['content']}」の見出し",
    "contents[].subheading": f"「{SECTION_LABELS['content']}」の副題",
    "history[].period": f"「{SECTION_LABELS['history']}」の時期",
    "outcomes.stories[].title": f"「{SECTION_LABELS['story']}」の見出し",
    "outcomes.stories[].subject": f"「{SECTION_LABELS['story']}」の対象の方",
    "suggestions_label": "提案の見出し",
    "contact": "連絡先",
    "source.report": "出典",
}
# One line that is only a bracketed label, with at most the one character the schema wants at
# the end of a prefecture or municipality; or a value that starts with the template's 「（例）」.
PLACEHOLDER = re.compile(r"（[^（）\n]*[^（）\s][^（）\n]*）[都道府県市区町村]?")
EXAMPLE_MARK = "（例）"
# The fields `caresearch import` writes as a bare 「（…）」 label when it could not find them.
IMPORTER_FILLED = frozenset({"prefecture", "municipality", "title", "keywords"})
# Each prefecture's region (地方区分), as the 地域 facet groups them.
PREFECTURE_REGION: dict[str, str] = {
    "北海道": "北海道",
    **dict.fromkeys(("青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県"), "東北"),
    **dict.fromkeys(
        ("茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県"), "関東"
    ),
    **dict.fromkeys(
        ("新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県"),
        "中部",
    ),
    **dict.fromkeys(
        ("三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県"), "近畿"
    ),
    **dict.fromkeys(("鳥取県", "島根県", "岡山県", "広島県", "山口県"), "中国"),
    **dict.fromkeys(("徳島県", "香川県", "愛媛県", "高知県"), "四国"),
    **dict.fromkeys(
        ("福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県"),
        "九州・沖縄",
    ),
}


def is_placeholder(value: str) -> bool:
    value = value.strip()
    return value.startswith(EXAMPLE_MARK) or PLACEHOLDER.fullmatch(value) is not None


def _values(data: Any, path: str, keys: list[str]) -> Iterator[tuple[str, Any]]:
    """(path as a problem names it, value) of every value at `keys` under `data`."""
    if not keys:
        if isinstance(data, list | dict):
            items = enumerate(data) if isinstance(data, list) else data.items()
            for k, v in items:
                yield (f"{path}[{k}]" if isinstance(k, int) else f"{path}.{k}"), v
        else:
            yield path, data
        return
    key, rest = keys[0], keys[1:]
    each = key.endswith("[]")
    key = key.removesuffix("[]")
    value = data.get(key) if isinstance(data, dict) else None
    here = f"{path}.{key}" if path else key
    if not each:
        yield from _values(value, here, rest)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _values(item, f"{here}[{i}]", rest)


def placeholder_problems(rel: str, data: dict[str, Any]) -> list[Problem]:
    """A problem for each placeholder left in the NAME_FIELDS (the module docstring says which),
    in the order of the file."""
    out = []
    for field, label in NAME_FIELDS.items():
        for path, value in _values(data, "", field.split(".")):
            if not isinstance(value, str):
                continue
            if is_placeholder(value) and (
                field in IMPORTER_FILLED or value.strip().startswith(EXAMPLE_MARK)
            ):
                out.append(
                    Problem(
                        rel,
                        path,
                        f"{label}が仮の値「{value.strip()[:40]}」のままです。"
                        "「（…）」の部分は実際の内容に書き換えてください",
                    )
                )
    top = list(data)
    return sorted(out, key=lambda p: top.index(p.field.split(".")[0].split("[")[0]))


def region_problems(rel: str, data: dict[str, Any]) -> list[Problem]:
    """The region when it is not the prefecture's (a prefecture the table does not know, such
    as a test's 架空県, is not checked)."""
    prefecture, region = data.get("prefecture"), data.get("region")
    expected = PREFECTURE_REGION.get(prefecture) if isinstance(prefecture, str) else None
    # a region that is none at all is the schema's to report (once)
    if expected is None or region not in set(PREFECTURE_REGION.values()) or region == expected:
        return []
    return [
        Problem(
            rel,
            "region",
            f"地域（地方区分）が「{region}」になっていますが、{prefecture}の地方区分は「{expected}」です。"
            f"region: {expected} にしてください（都道府県が誤りなら prefecture を直してください）",
        )
    ]
