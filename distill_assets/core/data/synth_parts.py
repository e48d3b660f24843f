"""The invented parts of a synthetic record: person names and street addresses.

Names and streets mix short lists of common ones with words drawn from every character of the
gazetteer's place names, so that a student trained on them learns to copy such parts from the
text rather than to recall the lists (core/data/synth.py renders them into texts).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from distill_assets.core.regions.tables import division_rows, lookup

_ROAD_STEMS = (
    "人民 解放 建设 和平 新华 胜利 文化 青年 光明 东风 红旗 工业 幸福 友谊 团结 民主 长江 黄河 "
    "朝晖 迎宾 滨江 滨河 环城 体育 学府 科技 创业 金融 世纪 振兴 复兴 兴业 富强 沿江 望江 湖滨 "
    "花园 桃园 枫林 松柏 梧桐 银杏 丁香 海棠 玉兰 紫荆 龙华 凤凰 金桥 银河 星光 明珠 育才 春晖 "
    "建国 前进 劳动 跃进 延安 井冈山 中华 新民 永安 太平 安康 宝龙 天府 锦绣 华夏 长征 园林"
).split()
_ROAD_SUFFIX = "路 路 路 街 大街 大道 东路 西路 南路 北路 中路 巷 一路 二路 三路 街道".split()
_ESTATES = (
    "阳光花园 锦绣家园 翠苑小区 金色港湾 世纪新城 御景湾 华府天地 碧水蓝天小区 幸福里小区 "
    "滨江花园 书香苑 东方名城 紫薇花园 怡景苑 丽都花园 馨园小区 绿地城 星河湾 和谐家园 "
    "金地格林小城 万家丽小区 龙湖天街 恒大名都 融创壹号院 保利香槟国际 城南新村 工人新村 "
    "教师公寓 电力小区 铁路新村 水岸名邸 福星苑 盛世华庭 香格里拉花园"
).split()
_TOWERS = (
    "国际大厦 金融中心 科技园 创业大厦 商务中心 写字楼 广场 国贸中心 财富中心 产业园 "
    "国际酒店 大酒店 宾馆 医院 实验学校 中学 职业技术学院 购物中心 农贸市场 物流园"
).split()
_BRANDS = (
    "万达 华润 保利 中海 银泰 绿地 金茂 华联 新世纪 鑫源 宏达 恒通 远洋 建工 龙腾 国信 "
    "天虹 鼎盛 东盛 嘉禾"
).split()
_GIVEN = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 英 华 玉 萍 红 "
    "鹏 辉 健 俊 帅 凯 浩 宇 轩 泽 睿 博 文 欣 怡 婷 雪 琳 晨 阳 思 佳 嘉 子 梓 涵 "
    "诗 雨 梦 可 心 一 晓 志 建 国 海 春 秋 冬 兰 凤 莉 倩 颖 琴 云 飞 鑫 宏 斌 亮 波 "
    "慧 瑶 璐 薇 蕾 晶 丹 晴 悦 妍 彤 露 琪 然 豪 翔 昊 毅 峰 诚 德 荣 福 贵 成 龙 "
    "振 永 光 天 安 立 新 宁 远 和 瑞 祥 奇 伦 铭 逸 航 晗 昕 宸 钰 苗 茜 菲 婉 "
    "淑 惠 珍 爱 莹 蓉 洁 燕 彬 刚 坤 松 柏 楠 杨 桐 卫 东 方 齐 乐 斯"
).split()
_SURNAME_TOP = (
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 "
    "邓 曹 彭 曾 肖 田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 钟 谭 "
    "陆 汪 范 金 石 廖 贾 夏 韦 付 方 白 邹 孟 熊 秦 邱 江 尹 薛 闫 段 雷 侯 龙 史 陶 黎 "
    "贺 顾 毛 郝 龚 邵 万 钱 严 覃 武 戴 莫 孔 向 汤"
).split()
_SURNAME_COMPOUND = (
    "欧阳 慕容 司马 诸葛 上官 皇甫 尉迟 公孙 令狐 夏侯 长孙 宇文 司徒 端木 南宫 独孤 西门 轩辕"
).split()
_MINORITY_NAMES = (
    "阿卜杜拉·买买提 古丽娜尔·艾力 热依拉·吐尔逊 艾尔肯·阿不都 努尔兰·哈力克 "
    "扎西·多吉 央金·卓玛 阿依古丽·热合曼"
).split()


def _pick(rng: np.random.Generator, seq, size: int) -> np.ndarray:
    return np.asarray(seq, dtype=object)[rng.integers(0, len(seq), size)]


# Share of open-vocabulary parts (a given-name character, a road stem, an estate or brand
# name) drawn from every character of the gazetteer's place names instead of the short lists
# above: with lists alone a small student learns to recall the lists, not to copy the text,
# and writes a listed name for a name it has never seen.
_OPEN_SHARE = 0.5
_OPEN_SUFFIX_TAIL = "省市区县州盟旗镇乡"  # a division level: a stem ending so reads as a region
_NOT_OPEN = set("省市区县州盟旗镇乡村街道路号楼栋室单元层收件货人电话手机址地自治族")
# Not in a person's name either: characters that end an address part (站, 园, 厂…), or glue a
# label to its value (收件人是…).
_NOT_IN_NAMES = set("座店厦园苑城院弄里门所部处司场馆站厂队组铺舍是为叫")
_ESTATE_SUFFIX = "花园 小区 家园 苑 新村 公寓 名苑 华庭 雅居 山庄 新城 嘉园".split()
_ROAD_SUFFIX_WIDE = (*_ROAD_SUFFIX, "步行街", "中一路", "东二路", "西三路", "大街", "横街")
_GIVEN_ONLY_SHARE = 0.03  # a name with no Han surname (次仁, 其木格): two to three open chars


@cache
def _open_chars(for_names: bool = False) -> np.ndarray:
    """The characters of the gazetteer's division names, less the level suffixes and words that
    would read as a label, a level or a street part: about 1,300 real characters in sorted
    order (the same for every run)."""
    chars: set[str] = set()
    for row in division_rows(current_only=True):
        for name in row:
            chars.update(name.rstrip(_OPEN_SUFFIX_TAIL))
    drop = _NOT_OPEN | _NOT_IN_NAMES if for_names else _NOT_OPEN
    keep = sorted(ch for ch in chars if "\u4e00" <= ch <= "\u9fff" and ch not in drop)
    return np.array(keep, dtype=object)


def _open_words(
    rng: np.random.Generator, n: int, lengths: tuple[int, ...], for_names: bool = False
) -> np.ndarray:
    """n words of open characters (length drawn from `lengths`); a word that is a division name
    is drawn again once, from the row's next characters."""
    chars = _open_chars(for_names)
    sizes = _pick(rng, lengths, n)
    draws = rng.integers(0, len(chars), (n, max(lengths) + 2))
    out = np.empty(n, dtype=object)
    for i in range(n):
        row = list(chars[draws[i]])
        k = int(sizes[i])
        word = "".join(row[:k])
        if lookup(word):  # a region name inside a street or person would be another task
            word = "".join(row[2 : 2 + k])
        out[i] = word
    return out


def _mix(rng: np.random.Generator, listed: np.ndarray, wide: np.ndarray) -> np.ndarray:
    """Per row: the listed value, or with _OPEN_SHARE the open-vocabulary one."""
    return np.where(rng.random(len(listed)) < _OPEN_SHARE, wide, listed)


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """n person names: mostly a listed surname and one or two given characters."""
    kind = rng.random(n)
    sur = _pick(rng, _SURNAME_TOP, n)
    comp = _pick(rng, _SURNAME_COMPOUND, n)
    g1 = _mix(rng, _pick(rng, _GIVEN, n), _open_words(rng, n, (1,), for_names=True))
    g2 = _mix(rng, _pick(rng, _GIVEN, n), _open_words(rng, n, (1,), for_names=True))
    two = rng.random(n) < 0.7
    minority = _pick(rng, _MINORITY_NAMES, n)
    given_only = _open_words(rng, n, (2, 3), for_names=True)
    out = np.empty(n, dtype=object)
    for i in range(n):
        if kind[i] < 0.015:
            out[i] = minority[i]
        elif kind[i] < 0.015 + _GIVEN_ONLY_SHARE:
            out[i] = given_only[i]
        elif kind[i] < 0.10:
            out[i] = comp[i] + g1[i] + (g2[i] if two[i] else "")
        else:
            out[i] = sur[i] + g1[i] + (g2[i] if two[i] else "")
    return out


def locations(rng: np.random.Generator, n: int) -> np.ndarray:
    """n street addresses below the district: road and number, then an estate or a building."""
    stem = _mix(rng, _pick(rng, _ROAD_STEMS, n), _open_words(rng, n, (2, 2, 2, 1, 3)))
    suffix = _pick(rng, _ROAD_SUFFIX_WIDE, n)
    road = stem + suffix
    num = rng.integers(1, 999, n)
    kind = rng.integers(0, 6, n)
    wide_estate = _open_words(rng, n, (2,)) + _pick(rng, _ESTATE_SUFFIX, n)
    estate = _mix(rng, _pick(rng, _ESTATES, n), wide_estate)
    brand = _mix(rng, _pick(rng, _BRANDS, n), _open_words(rng, n, (2,)))
    tower = brand + _pick(rng, _TOWERS, n)
    bld = rng.integers(1, 40, n)
    unit = rng.integers(1, 7, n)
    floor = rng.integers(1, 33, n)
    room = rng.integers(1, 20, n)
    space = rng.random(n) < 0.3
    out = np.empty(n, dtype=object)
    for i in range(n):
        sp = " " if space[i] else ""
        base = f"{road[i]}{num[i]}号"
        k = kind[i]
        if k == 0:
            out[i] = f"{base}{sp}{estate[i]}{bld[i]}栋{unit[i]}单元{floor[i]}{room[i]:02d}室"
        elif k == 1:
            out[i] = f"{base}{sp}{estate[i]}{sp}{bld[i]}号楼{floor[i]}{room[i]:02d}"
        elif k == 2:
            out[i] = f"{base}{sp}{tower[i]}{sp}{floor[i]}楼"
        elif k == 3:
            out[i] = f"{base}{sp}{tower[i]}{sp}{bld[i]}号楼"
        elif k == 4:
            out[i] = f"{estate[i]}{bld[i]}-{unit[i]}-{floor[i]}{room[i]:02d}"
        else:
            out[i] = base
    return out
