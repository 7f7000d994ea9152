"""The curated care-jargon table (ケアマネ = 介護支援専門員, 社協 = 社会福祉協議会, …): data only.

Each group lists spellings that mean the same thing. Terms are compared after analysis, so a
group entry matches whatever width or kana the user types.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import CorpusError

DEFAULT_PATH = Path(__file__).with_name("data") / "synonyms.yaml"


@dataclass(frozen=True)
class SynonymTable:
    groups: tuple[tuple[str, ...], ...]
    # one-way: an everyday word of a problem description -> the words case texts use
    paraphrases: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> SynonymTable:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CorpusError(f"同義語表 {path} を読めません: {exc}") from exc
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, list):
            raise CorpusError(f"{path}: groups（同義語のグループの一覧）がありません")
        clean: list[tuple[str, ...]] = []
        for i, group in enumerate(groups):
            if not isinstance(group, list) or len(group) < 2:
                raise CorpusError(
                    f"{path}: groups の {i + 1} 番目: 1つのグループには2語以上を書いてください"
                )
            if not all(isinstance(t, str) and t.strip() for t in group):
                raise CorpusError(f"{path}: groups の {i + 1} 番目: 空の語があります")
            clean.append(tuple(str(t).strip() for t in group))
        paraphrases = data.get("paraphrases") or {}
        if not isinstance(paraphrases, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and v and all(isinstance(x, str) for x in v)
            for k, v in paraphrases.items()
        ):
            raise CorpusError(f"{path}: paraphrases は「語: [語, 語, …]」の形で書いてください")
        return cls(tuple(clean), tuple((k, tuple(v)) for k, v in paraphrases.items()))

    def __len__(self) -> int:
        return len(self.groups)
