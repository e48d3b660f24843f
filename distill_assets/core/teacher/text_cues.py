"""What the rule teacher knows about logistics text besides divisions: label words, phones,
names, fillers and the characters that end a field."""

from __future__ import annotations

import re
from dataclasses import dataclass

from distill_assets.core.common.normalize import normalize_phone
from distill_assets.core.regions.tables import C, P, lookup

PLACE_WORDS = tuple(
    sorted(
        """路 街 大道 大街 大厦 大学 大桥 大酒店 酒店 宾馆 饭店 巷 弄 胡同 小区 花园 广场 公园 中学
        小学 医院 商场 商城 银行 站 机场 公司 村 桥 湖 寺 山庄 新村 里 门 苑 园 号 楼 港 湾
        饭店 菜""".split(),
        key=len,
        reverse=True,
    )
)

_PHONE_LABELS = (
    "收件人电话 收件人手机 收货人电话 收货人手机 联系电话 手机号码 电话号码 联系方式 联系手机 "
    "手机号 电话号 手机 电话 座机 ☎️ ☎ 📞 📱 ☏"
).split()
_NAME_LABELS = (
    "收件人姓名 收货人姓名 收件人 收货人 联系人 姓名 收件者 接收人 收件方 收货方 名字 签收人 买家 "
    "客户 👤"
).split()
_ADDR_LABELS = (
    "收货地址 收件地址 详细地址 所在地区 收货地区 所在区域 省市区 送货地址 配送地址 邮寄地址 "
    "街道地址 门牌号 详细 地区 所在省 所在市 所在区 所在城市 省份 城市 区县 地址 "
    "寄到 送到 发到 寄往 寄去 邮寄到 📍 🏠"
).split()
_EN_LABELS = {
    "phone": ("tel", "telephone", "phone", "mobile", "mob", "cell", "phone number", "phone no."),
    "name": ("name", "receiver", "recipient", "consignee", "contact"),
    "addr": (
        *("address", "addr", "address line", "street", "detail", "region", "area"),
        *("province/city", "province", "city", "district"),
    ),
    # A note ("备注：放门卫室") is read and dropped: it belongs to no field.
    "note": ("note", "remark", "remarks"),
}
_NOTE_LABELS = "备注 留言 买家留言".split()
# Label words that also occur inside addresses and names ("城市花园", "客户服务中心"): a label
# only where a segment starts.
_SEGMENT_START_ONLY = frozenset(
    "客户 详细 地区 城市 省份 区县 所在省 所在市 所在区 所在城市 门牌号".split()
)


def _label_regex() -> re.Pattern[str]:
    alts: list[tuple[str, str]] = []
    by_kind = (
        ("phone", _PHONE_LABELS),
        ("name", _NAME_LABELS),
        ("addr", _ADDR_LABELS),
        ("note", _NOTE_LABELS),
    )
    for kind, words in by_kind:
        alts += [(kind, re.escape(w)) for w in words]
    for kind, words in _EN_LABELS.items():
        alts += [(kind, r"(?<![A-Za-z])(?i:" + re.escape(w) + r")(?![A-Za-z])") for w in words]
    alts.sort(key=lambda kv: len(kv[1]), reverse=True)
    return re.compile("|".join(f"(?P<{kind}{i}>{pat})" for i, (kind, pat) in enumerate(alts)))


def _label_first_chars() -> re.Pattern[str]:
    """Where a label can start: the first character of every label word (English ones under the
    same case folding as the label regex), so `find_labels` tries the long alternation only
    there instead of at every character (the same matches, ~10x faster)."""
    cjk = {w[0] for w in (*_PHONE_LABELS, *_NAME_LABELS, *_ADDR_LABELS, *_NOTE_LABELS)}
    en = {w[0].lower() for words in _EN_LABELS.values() for w in words}
    return re.compile(
        "[" + re.escape("".join(sorted(cjk))) + "]|(?i:[" + re.escape("".join(sorted(en))) + "])"
    )


_LABEL_RE = _label_regex()
_LABEL_START = _label_first_chars()
_LABEL_KIND = {name: re.sub(r"\d+$", "", name) for name in _LABEL_RE.groupindex}
_PHONE_RE = re.compile(
    r"(?<![\dA-Za-z])(?<!\d-)(?P<cc>(?:\+|＋|00)\s?86[\s\-]*|86[\s\-]+)?"
    # digit groups joined by one space or one dash (a newline or two spaces end the number)
    r"(?P<num>(?:\(0\d{2,3}\)\s?)?\d{3,}(?:(?:[ \u3000]?-[ \u3000]?|[ \u3000])\d{3,}){0,3})"
    r"(?![\d\-])"
)
ADMIN_SUFFIX = ("州", "县", "旗", "区", "市", "盟", "省")
STREET_AFTER = re.compile(r"[东西南北中一二三四五六七八九十]{1,2}(?:路|街|大道|大街|巷|段)")
_HARD = set("\n\r\t,，;；|｜/:：。!！?？、【】[]{}<>《》「」『』=")
WS = " \u3000\xa0"
RECEIVED_TAILS = ("(收)", "（收）", "收")  # after a name: "李易峰(收)", "次仁收", "李浦 收"
_LABEL_GLUE = WS + "是为叫:："  # may follow a label word: "收件人是…", "电话为…"
STRIP = WS + ",，:：;；|｜-—~～.。!！?？、/\\"
_FILLER_TAIL = (
    "谢谢啦", "谢谢了", "谢谢", "谢啦", "多谢", "感谢", "辛苦了", "麻烦了", "哈", "哦", "呀", "啦",
)  # fmt: skip
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
# Words inside a chunk that make it a courtesy or a request, not a name; `looks_like_name`
# (surname-led) checks the courtesies only, `looks_like_bare_name` all of them.
_COURTESIES = ("谢谢", "麻烦", "收件", "辛苦")
_NOT_A_NAME = (
    *_COURTESIES,
    "快递",
    "发货",
    "顺丰",
    "到付",
    "电话",
    "送货",
    "门卫",
    "到了",
    "尽快",
    "打",
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


def is_hard(ch: str) -> bool:
    return ch in _HARD or _is_emoji(ch)


# `is_hard` as one character class: the scan finds a text's hard characters in C.
_HARD_RE = re.compile(
    "[" + re.escape("".join(sorted(_HARD))) + "\u2190-\u2bff\U0001f000-\U0001faff\ufe0f\u200d]"
)


def hard_positions(text: str) -> list[int]:
    """The positions of the characters `is_hard` is true of, in order."""
    return [m.start() for m in _HARD_RE.finditer(text)]


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def looks_like_name(s: str) -> bool:
    """A bare 2-4 character Chinese name (or a '·'-joined minority name)."""
    if not s or s in _NAME_STOP:
        return False
    if "·" in s or "•" in s:
        parts = re.split(r"[·•]", s)
        return all(p and all(is_cjk(ch) for ch in p) for p in parts) and len(s) <= 20
    if not (2 <= len(s) <= 4) or not all(is_cjk(ch) for ch in s):
        return False
    if any(e.full or e.level in (P, C) for e in lookup(s)):  # "吉林", "银川": no names
        return False
    if s[:2] in _COMPOUND_SURNAMES:
        return len(s) >= 3 or s.endswith(("先生", "女士"))
    if s[0] not in _SURNAMES:
        return False
    if s.endswith(("先生", "女士", "小姐", "老师", "师傅", "经理", "总")):
        return True
    return not s.endswith(_ADDR_SUFFIX) and not any(w in s for w in _COURTESIES)


def looks_like_any_name(s: str) -> bool:
    """A name with a Han surname, or a bare one (次仁收: the 收 after it marks it a name)."""
    return looks_like_name(s) or looks_like_bare_name(s)


def looks_like_bare_name(s: str) -> bool:
    """A standalone 2-5 character word that is not address-like (names without a Han surname)."""
    return (
        2 <= len(s) <= 5
        and all(is_cjk(ch) for ch in s)
        and s not in _NAME_STOP
        and s not in _FILLER_HEAD
        and not s.endswith(_ADDR_SUFFIX)
        and not any(w in s for w in _NOT_A_NAME)
        and not lookup(s)  # "云南", "喀什" are divisions
    )


@dataclass
class Span:
    start: int
    end: int
    kind: str  # "phone", "name", "addr" (labels) or "phonenum"


def find_labels(text: str) -> list[Span]:
    """Label words left to right, as `_LABEL_RE.finditer` finds them (tried only where one
    can start)."""
    out: list[Span] = []
    pos, n = 0, len(text)
    while (start := _LABEL_START.search(text, pos)) is not None:
        m = _LABEL_RE.match(text, start.start())
        if m is None:
            pos = start.start() + 1
            continue
        pos = m.end()
        kind = _LABEL_KIND.get(m.lastgroup or "", "")
        if (
            m.group(0) in _SEGMENT_START_ONLY
            and m.start()
            and not (is_hard(text[m.start() - 1]) or text[m.start() - 1] in WS)
        ):
            continue
        end = m.end()
        # "收件人是…", "电话为…", "姓名叫…"
        while end < n and text[end] in _LABEL_GLUE and end - m.end() < 3:
            end += 1
        out.append(Span(m.start(), end, kind))
    return out


def find_phones(text: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every phone-like run; the span is one number by construction,
    so its inner spacing is folded before `normalize_phone` reads it."""
    out: list[tuple[int, int, str]] = []
    for m in _PHONE_RE.finditer(text):
        start, run = m.start(), m.group(0)
        digits = normalize_phone(" ".join(run.split()))
        # "…19号楼1905 18982723700": a room number then a phone; the phone is the tail groups.
        while len(digits) > 13 and (cut := re.search(r"[ \u3000-]+", run)):
            start, run = start + cut.end(), run[cut.end() :]
            digits = normalize_phone(" ".join(run.split()))
        if 7 <= len(digits) <= 13:
            out.append((start, m.end(), digits))
    return out


def clean_loc(s: str) -> str:
    s = s.strip(STRIP)
    changed = True
    while changed:
        changed = False
        for f in _FILLER_TAIL:
            if s.endswith(f) and len(s) > len(f):
                s = s[: -len(f)].rstrip(STRIP)
                changed = True
    return s


def strip_filler_head(s: str) -> str:
    """`s` less a leading filler word ("找周杰" -> "周杰", "请寄给…")."""
    for f in _FILLER_HEAD:
        if s.startswith(f) and len(s) > len(f):
            return s[len(f) :]
    return s


def clean_chunk(s: str) -> str:
    s = s.strip(STRIP)
    for tail in ("(收)", "（收）"):  # before the brackets are stripped: "李易峰（收）"
        if s.endswith(tail) and looks_like_name(s[: -len(tail)].strip(STRIP)):
            return s[: -len(tail)].strip(STRIP)
    s = strip_filler_head(s.strip(STRIP + "()（）"))
    for tail in RECEIVED_TAILS:
        if s.endswith(tail) and looks_like_any_name(s[: -len(tail)]):
            return s[: -len(tail)]
    return clean_loc(s)
