"""The usual 取組事例 layout as data: section labels, their order, and line patterns.

Data only (plus compiled patterns); the rules that use them live in `finding`. To teach the
importer a new label, add a row to LABELS; to add a section, add it to SECTION_ORDER too.
"""

from __future__ import annotations

import re

from ..fields import PREFECTURE_REGION

# Sections of a case in the order of the template. `finding` never moves backwards through this
# list on the strength of a label alone (a label for an earlier section is one printed after its
# content, which is what PDF extraction does to the template's grey boxes).
SECTION_ORDER: tuple[str, ...] = (
    "title",
    "features",
    "overview",
    "bodies",
    "background",
    "summary",
    "recommendation",
    "contents",
    "history",
    "changes",
    "stories",
    "kp_region",
    "kp_municipality",
    "suggestions",
    "center_table",
    "contact",
)

# Japanese names of the sections, for review items and the summary.
SECTION_NAMES: dict[str, str] = {
    "title": "タイトル",
    "features": "この事例の特徴",
    "overview": "地域概要",
    "bodies": "実施主体",
    "background": "背景・課題",
    "summary": "取り組み内容（概要）",
    "recommendation": "推薦メッセージ",
    "contents": "取り組み内容",
    "history": "取り組みの経緯",
    "changes": "地域に見られた変化",
    "stories": "個別の事例・参加者の声",
    "kp_region": "この事例のポイント（１．地域）",
    "kp_municipality": "この事例のポイント（２．自治体）",
    "suggestions": "これから取り組む皆さまへ",
    "center_table": "事業推進体制・職員体制",
    "contact": "連絡先",
    "diagram": "図の中の語句",
}

# Template labels (whitespace removed, brackets kept) → section. `None` = a label that names
# no section of its own (取り組みの成果 heads both changes and stories).
LABELS: dict[str, str | None] = {
    "【この事例の特徴】": "features",
    "この事例の特徴": "features",
    "地域概要実施主体": "overview",
    "地域概要": "overview",
    "実施主体": "bodies",
    "取り組みの背景・課題認識": "background",
    "取組の背景・課題認識": "background",
    "背景・課題": "background",
    "取り組み内容": "contents",
    "取組内容": "contents",
    "取り組み内容（概要）": "summary",
    "取り組みの経緯": "history",
    "取組の経緯": "history",
    "取り組みの成果": None,
    "取組の成果": None,
    "地域に見られた変化": "changes",
    "取り組みが生かされた個別支援": "stories",
    "取り組みが生かされた個別事例": "stories",
    "参加者の声": "stories",
    "個別の事例": "stories",
    "この事例のポイント（工夫や成功要因など）": None,
    "この事例のポイント": None,
    "１．地域": "kp_region",
    "1.地域": "kp_region",
    "２．自治体": "kp_municipality",
    "2.自治体": "kp_municipality",
    "これから取り組む皆さまへ～まず始めてみるために、この事例から得られる示唆": "suggestions",
    "これから取り組む皆さまへ～まず始めてみるために": "suggestions",
    "これから取り組む皆さまへ": "suggestions",
    "まず取り組むべき事項": "suggestions",
    "【参考】事業推進体制・職員体制": "center_table",
    "事業推進体制・職員体制": "center_table",
    "【参考】、連絡先": "contact",
    "【参考】連絡先": "contact",
    "【参考】URL、連絡先": "contact",
    "【参考】ＵＲＬ、連絡先": "contact",
    "連絡先": "contact",
}

# Labels as people type them in their own documents, read only where the line is not in 【】
# (a subheading 【背景】 or 【経緯】 of 取り組み内容 is not the section).
TYPED_LABELS: dict[str, str] = {
    "取り組みの背景・課題": "background",
    "取組の背景・課題": "background",
    "取り組みの背景": "background",
    "取組の背景": "background",
    "背景": "background",
    "経緯": "history",
    # a town's own 事例集: 背景, 取り組み内容, 成果, 課題, ポイント, 連絡先
    "成果": "changes",
    "主な成果": "changes",
    "取り組みの効果": "changes",
    "効果": "changes",
    "ポイント": "kp_region",
    "取り組みのポイント": "kp_region",
    "成功のポイント": "kp_region",
}

# Headings a town's own 事例集 gives to what the template has no section for (今後の課題): read
# as a 【…】 heading of 取り組み内容, so the text under them keeps its heading instead of being
# glued onto the paragraph before (a review item asks where it belongs).
TYPED_HEADINGS = frozenset(
    {"課題", "今後の課題", "残された課題", "今後の展開", "今後の方向性", "課題と今後の展開"}
)

# A label and its text on one line (背景：町内の…; a Word 事例シート's label cell and its text are
# read so): the label's line and the text's, when the label is one of the tables above. The
# labels of a case's title and place name no section: only their text is kept.
MAX_LABEL_CHARS = 12  # 取り組みの背景・課題 (a Word table's label cell too: `reading`)
LABELLED = re.compile(rf"^([^\s：:]{{1,{MAX_LABEL_CHARS}}})\s*[：:]\s*(\S.*)$")
HEAD_LABELS = frozenset(
    {"事例名", "タイトル", "事例のタイトル", "取組名", "取り組み名", "市町村", "市区町村",
     "市町村名", "自治体", "自治体名", "所在地"}
)  # fmt: skip

CONTACT_LABELS = ("連絡先", "問い合わせ先", "問合わせ先", "お問い合わせ", "お問合わせ")
# Labels read together with their text on one line (キーワード：…, 連絡先：…): written alone on their
# line (a Word cell's line break), they take the next line as their text
ONE_LINE_LABELS = ("キーワード", *CONTACT_LABELS)

# A contact written on one line with its label (連絡先：山田町 長寿福祉課), as typed documents do.
INLINE_CONTACT = re.compile(rf"^(?:【参考】)?(?:{'|'.join(CONTACT_LABELS)})\s*[：:]\s*(\S.*)$")

# Labels that, in every layout seen, stand before their content (the extraction keeps them in
# flow). The others may come after their content and are trusted only when content follows
# that fits them.
IN_FLOW = frozenset(
    {"features", "recommendation", "changes", "stories", "kp_region", "kp_municipality"}
)

# Lesson labels whose own wording is recorded as the case's suggestions_label.
SUGGESTION_LABELS = ("まず取り組むべき事項",)

RECOMMENDATION = re.compile(r"^[《≪<＜]\s*検討.{0,12}推薦メッセージ\s*[》≫>＞]$|^推薦メッセージ$")
KEYWORDS = re.compile(r"^キーワード[\s:：]*(.*)$")
# A collection's own numbering before a case's title (事例１ …, 事例 3：…, 取組事例2. …): a number
# and then a space or a mark, so 事例一覧 and 事例三つの柱 are no numbered titles
CASE_NUMBER = re.compile(
    r"^(?:取組事例|取り組み事例|事例)\s*[0-9０-９一二三四五六七八九十]{1,3}(?:\s*[：:．.、]\s*|\s+)"
)
# the 47 prefectures by name (京都府京都市 is 京都府 + 京都市, never 京都 + 府京都市)
_PREFECTURE = "|".join(sorted(PREFECTURE_REGION, key=len, reverse=True))
# A document's own town at the start of a line before its first case (長野県青葉町 健康福祉課)
DOCUMENT_PLACE = re.compile(rf"^({_PREFECTURE})\s*(\S{{1,12}}?[市町村区])(?=\s|$)")
LOCATION = re.compile(rf"^({_PREFECTURE})\s*(\S{{1,12}}[市町村区])$")
STORY_TITLE = re.compile(r"^《(.+)》$")
SUBJECT = re.compile(r"^[Ａ-ＺA-Z]さん（[^（）]*）$")
# 【heading ～subheading】, or typed with the subheading after the brackets (【heading】～subheading)
HEADING = re.compile(r"^【(.+)】(?:\s*[～〜~]\s*([^】]+))?$")
BUDGET = re.compile(r"^【予算】\s*(.*)$")
BUDGET_WORDS = re.compile(r"予算|千円|万円|補助金|交付金|事業費|費用")
# A timeline period: 平成26年度, 平成 年 月 ：…, 平成 年度以前, 平成 年 月～翌 月 (digits may be lost).
ERA = r"(?:平成|令和|昭和)"
_PERIOD = (
    r"\s*年(?:度)?(?:\s*[0-9０-９]*\s*月)?"
    r"(?:～翌?\s*[0-9０-９]*\s*(?:年度?)?\s*[0-9０-９]*\s*月)?(?:以前|以降|頃)?)"
)
PERIOD = re.compile(rf"^({ERA}\s*[0-9０-９元]*{_PERIOD}(?:\s*[：:]\s*(.+))?$")
# Inside 取り組みの経緯 only: typed documents also write 2020年 and put the entry after a space
# (令和２年　路線バス廃止). Elsewhere such a line is a sentence (2021年 4月から…) or a figure's axis.
TIMELINE_ENTRY = re.compile(
    rf"^((?:{ERA}\s*[0-9０-９元]*|[0-9０-９]{{4}}){_PERIOD}(?:\s*[：:]\s*(.+)|\s+(\S.*))?$"
)
# The overview box: 総人口：123,456人 (the label and its value may sit on separate lines).
OVERVIEW_FIELDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("total_population", re.compile(r"^総人口\s*[：:]?\s*(.*)$")),
    ("population_65_over", re.compile(r"^(?:65|６５)?\s*歳以上\s*(?:人口)?\s*[：:]?\s*(.*)$")),
    ("population_75_over", re.compile(r"^(?:75|７５)\s*歳以上\s*(?:人口)?\s*[：:]?\s*(.*)$")),
    (
        "care_certified",
        re.compile(r"^要介護\s*(?:[（(]?\s*要支援\s*[）)]?\s*)?(?:認定者数)?\s*[：:]?\s*(.*)$"),
    ),
    # 第9期介護保険料, or typed without the period: then with its colon (介護保険料の… is text)
    (
        "insurance_premium",
        re.compile(
            r"^(?:第\s*[0-9０-９]*\s*期\s*介護保険料\s*[：:]?|介護保険料\S{0,6}?[：:])\s*(.*)$"
        ),
    ),
    ("note", re.compile(r"^※(.*(?:人口|認定者|保険料).*)$")),
)
OVERVIEW_NOISE = re.compile(
    r"^(?:人|円|人口[：:]?|認定者数[：:]?|約\s*[0-9０-９,，]*\s*人|[0-9０-９,，.．]+\s*(?:人|円)?"
    r"|（[0-9０-９.．]*\s*[%％]?）|仮設住宅等への|避難住民)$"
)
CENTER_TABLE = re.compile(r"^【(?:地域包括支援センター|所管課)】$")
SUMMARY_END = re.compile(r"詳細は、?次[頁項ページ]で紹介する。$")

# Markers that start an item. Private-use characters are the report's Wingdings bullets.
CHECK_MARK = "\uf0fc"  # ✓: a suggestion
FEATURE_MARK = "\uf0d8"  # ➢: a feature
ITEM_START = re.compile(r"^(?:[\ue000-\uf8ff・◎○●■□◆◇※①-⑳✓✔➢▶►]|[-*＊]\s|[１-９]．|[Ａ-Ｚ]さん（)")
BULLET = re.compile(r"^(?:[\ue000-\uf8ff・◎○●■□◆◇✓✔➢▶►]|[-*＊](?=\s))\s*")
SENTENCE_END = re.compile(r"[。．！？][」）』]?$")

# Words that propose a theme (labels of corpus/themes.yaml). A theme is proposed when its
# words occur often enough in the case's text; the reviewer confirms or edits the list.
THEME_WORDS: dict[str, tuple[str, ...]] = {
    "医療・介護連携": (
        "医療と介護の連携",
        "医療・介護連携",
        "医療介護連携",
        "医師会",
        "入院",
        "退院",
    ),
    "在宅医療": ("在宅医療", "訪問看護", "訪問診療", "在宅療養", "看取り", "定期巡回"),
    "介護予防": ("介護予防", "体操", "予防教室", "健康づくり"),
    "生活支援": ("生活支援", "見守り", "配食", "外出支援", "家事"),
    "認知症": ("認知症",),
    "人材育成": ("人材育成", "養成講座", "研修", "育成", "マイスター"),
    "住民参加": ("住民参加", "協働", "住民主体", "住民自ら", "自主活動", "市民活動", "住民の"),
    "ボランティア": ("ボランティア",),
    "災害・避難": ("避難", "震災", "仮設住宅", "災害"),
    "多職種連携": ("多職種", "ケア会議", "合同研修", "他職種"),
    "ICT・情報共有": ("ICT", "ＩＣＴ", "情報共有", "一元管理", "連絡ノート", "情報発信"),
    "事業者連携": ("事業者連絡会", "事業者", "地域密着型サービス"),
    "行政組織": ("庁内", "組織", "直営", "行政内部", "役場"),
    "拠点づくり": ("拠点", "サロン", "居場所", "カフェ", "サポートセンター"),
    "共生": ("共生", "世代間", "多世代", "障害"),
    "就労・社会参加": ("就労", "生きがい", "社会参加", "役割"),
    "ニーズ把握": ("ニーズ", "実態調査", "アンケート", "調査"),
    "大学連携": ("大学", "学生", "研究"),
}
THEME_MIN_HITS = 3
THEME_MAX = 8
