"""Masking of personal information (PIPL) for text that leaves the operational store.

The store keeps raw values; logs, exports, trainer views and reports show them masked:
mobile 138****5678, landline 0871-****9518, ID 5301**********1234, name 张**, address 蒙自市****.
In free text (`mask_text`) also e-mail addresses (z***@qq.com), street addresses from the street
on (寄到曲靖市麒麟区****) and names found by their context (收件人：岩*, 我是张**, 张**先生).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.text import gazetteer, phones, spoken

STAR = "*"
HIDDEN = STAR * 4

# Resident ID numbers: 18 characters (last may be X) with a plausible birth date, or the old
# 15 digits.
ID18_RE = re.compile(
    r"(?<![\dA-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![\dA-Za-z])"
)
ID15_RE = re.compile(
    r"(?<![\dA-Za-z])\d{6}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![\dA-Za-z])"
)

_PROVINCE_RE = re.compile(r"云南省|云南|[\u4e00-\u9fa5]{2,3}省|[\u4e00-\u9fa5]{2,8}?自治区")
_CITY_RE = re.compile(r"[\u4e00-\u9fa5]{2,8}?(?:市|自治州|州|地区|盟)")
_COUNTY_RE = re.compile(r"[\u4e00-\u9fa5]{1,8}?(?:区|县|旗|市)")
# Endings that look like a district but name a neighbourhood, campus or park.
_NOT_A_DISTRICT = ("小区", "社区", "园区", "校区", "景区", "街区", "厂区", "营区")

_SIGNER_ROLES = ("本人|他人|门卫|前台|收发室|单位收发室|物业|保安|驿站|快递柜|智能快递柜|信报箱|"
                 "家人|同事|邻居|朋友")
_SIGNER_RE = re.compile(rf"^(?P<role>{_SIGNER_ROLES})?(?P<name>.*?)(?P<suffix>代收|签收|代签)?$")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _keep_ends(value: str, head: int, tail: int) -> str:
    """Star everything but the first `head` and last `tail` characters (all of it if too short)."""
    if len(value) <= head + tail:
        return STAR * len(value)
    return value[:head] + STAR * (len(value) - head - tail) + value[len(value) - tail:]


def area_code_length(digits: str) -> int:
    """How many leading digits of a landline number are its area code (3 or 4).

    010 and 02x are the only three-digit area codes; all others have four digits.
    """
    return 3 if digits.startswith(("010", "02")) else 4


def mask_phone(phone: str) -> str:
    """Mask a mobile or landline number.

    Args:
        phone: the number as typed, e.g. "13812345678", "+86 138 1234 5678", "0871-63019518",
            or as read out ("幺三八 幺二三四 五六七八").

    Returns:
        "138****5678" for a mobile, "0871-****9518" for a landline; for anything else
        every digit but the last four is starred.
    """
    digits = _digits(spoken.to_ascii(phone))
    if re.fullmatch(r"(?:0{0,2}86)?1[3-9]\d{9}", digits):
        mobile = digits[-11:]
        return f"{mobile[:3]}****{mobile[7:]}"
    if re.fullmatch(r"0\d{9,11}", digits):
        cut = area_code_length(digits)
        area, local = digits[:cut], digits[cut:]
        if 7 <= len(local) <= 8:
            return f"{area}-{_keep_ends(local, 0, 4)}"
    return _keep_ends(digits, 0, 4) if digits else _keep_ends(phone, 0, 4)


def mask_id(id_number: str) -> str:
    """Mask a resident ID number: "530102199001011234" -> "5301**********1234"."""
    value = re.sub(r"\s", "", id_number)
    return _keep_ends(value, 4, 4)


def mask_name(name: str) -> str:
    """Keep the first character of a name and star the rest: "张三丰" -> "张**"."""
    value = name.strip()
    if len(value) <= 1:
        return STAR * len(value)
    return value[0] + STAR * (len(value) - 1)


def mask_signer(signed_by: str) -> str:
    """Mask the name in a signature line but keep who signed in what role.

    "门卫代收" and "本人签收" stay as they are; "张三丰" -> "张**"; "同事李明代收" -> "同事李*代收".
    """
    match = _SIGNER_RE.match(signed_by.strip())
    if match is None:  # pragma: no cover - the pattern matches any single-line string
        return mask_name(signed_by)
    name = match.group("name")
    if not name:
        return signed_by.strip()
    return (match.group("role") or "") + mask_name(name) + (match.group("suffix") or "")


def _known_place_at(address: str, pos: int) -> gazetteer.Place | None:
    """The gazetteer place whose longest surface form starts at `pos`, if any."""
    table = gazetteer.aliases()
    for end in range(min(len(address), pos + max(map(len, table))), pos, -1):
        place = table.get(address[pos:end])
        if place is not None:
            return gazetteer.Place(address[pos:end], place.prefecture, place.level)
    return None


def _admin_prefix(address: str) -> int:
    """Length of the leading province / prefecture / county part of an address."""
    match = _PROVINCE_RE.match(address)
    pos = match.end() if match else 0
    city_done = False
    while pos < len(address):
        known = _known_place_at(address, pos)
        if known is not None:
            pos += len(known.name)
            if known.level == "county":
                return pos
            city_done = True
            continue
        # Outside the gazetteer: take the shortest plausible city or county name.
        patterns = (_COUNTY_RE,) if city_done else (_CITY_RE, _COUNTY_RE)
        found = [m for m in (p.match(address, pos) for p in patterns)
                 if m and not m.group(0).endswith(_NOT_A_DISTRICT)]
        if not found:
            return pos
        best = min(found, key=lambda m: m.end())
        pos = best.end()
        if best.re is _COUNTY_RE:
            return pos
        city_done = True
    return pos


def mask_address(address: str) -> str:
    """Keep the administrative part of an address down to the county/district and hide the rest.

    "蒙自市天马路12号3栋" -> "蒙自市****";
    "云南省红河州蒙自市天马路12号" -> "云南省红河州蒙自市****".
    """
    value = address.strip()
    keep = _admin_prefix(value)
    return value[:keep] + (HIDDEN if keep < len(value) else "")


# --- personal data inside free text ------------------------------------------------------

_CJK = "\u4e00-\u9fff"
_KINDS = ("email", "id", "phone", "address", "name")  # also the priority when two overlap


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@dataclass(frozen=True)
class Found:
    """Personal data found in free text: ``text[start:end]``.

    Attributes:
        start, end: where it is.
        kind: "email", "id", "phone", "address" or "name".
        clear: character ranges inside it that masks leave readable (an e-mail's first
            character and its ``@domain``, a name's first character).
        names: for an address, the ranges of its proper names (南宁西 of 南宁西路), which
            an export replaces; the rest is keywords (路, 号, 栋) and numbers.
    """

    start: int
    end: int
    kind: str
    clear: tuple[tuple[int, int], ...] = ()
    names: tuple[tuple[int, int], ...] = ()


# E-mail addresses, also typed with a full-width ＠ or dots, inside Chinese text without spaces.
_EMAIL_LOCAL = "A-Za-z0-9._%+\\-Ａ-Ｚａ-ｚ０-９．＿－"
_EMAIL_LABEL = "A-Za-z0-9\\-Ａ-Ｚａ-ｚ０-９－"
_EMAIL_RE = re.compile(
    rf"(?<![{_EMAIL_LOCAL}])(?P<local>[A-Za-z0-9Ａ-Ｚａ-ｚ０-９][{_EMAIL_LOCAL}]*)(?P<at>[@＠])"
    rf"(?P<domain>[{_EMAIL_LABEL}]+(?:[.．。][{_EMAIL_LABEL}]+)*[.．。][A-Za-zＡ-Ｚａ-ｚ]{{2,}})")


def find_emails(text: str) -> list[Found]:
    """Every e-mail address in `text`: ``邮箱是abc123@163.com谢谢`` finds ``abc123@163.com``."""
    out = []
    for m in _EMAIL_RE.finditer(text):
        out.append(Found(m.start(), m.end(), "email",
                         clear=((m.start(), m.start() + 1), (m.start("at"), m.end()))))
    return out


# --- street addresses ---

# Named parts of an address: a proper name and one of these (南宁西 + 路, 阳光 + 花园).
_PLACE_WORDS = ("大道", "大街", "胡同", "社区", "小区", "花园", "花苑", "公寓", "大厦", "家园",
                "新村", "山庄", "路", "街", "巷", "村", "苑", "园", "城")
_PLACE_RE = re.compile("|".join(w if w != "街" else "街(?!道)" for w in _PLACE_WORDS))
# Numbered parts: 88号, 3栋, 2单元, 502室, 3号楼, 5组, A座, 三楼.
_UNIT_WORDS = "号楼|号院|单元|号|栋|幢|座|楼|层|室|弄|组|排|户"
_BUILDING_UNITS = {"号楼", "号院", "单元", "栋", "幢", "座", "楼", "层", "室", "户"}
_UNIT_RE = re.compile(
    r"(?<![\dA-Za-z])(?P<n>[A-Za-z]?\d{1,5}(?:-\d{1,5}){0,3}|[A-Za-z]|[一二三四五六七八九十两]{1,3})"
    rf"(?P<unit>{_UNIT_WORDS})")
# A room number written without 室 after a building, unit or floor: 2单元502 (not 3楼12点).
_ROOM_RE = re.compile(r"\d{2,5}(?:-\d{1,5}){0,2}"
                      r"(?![\d号栋幢座楼层室单点天月年次个件分小时元块公斤克米岁周])")
# "12月3号", "星期3号"... are dates, not house numbers.
_DATE_BEFORE = ("月", "日", "期", "周", "礼拜")
# Characters that end a proper name when reading backwards from 路/小区: the verbs and
# particles that introduce an address (寄到, 住在, 地址是), pronouns and punctuation.
_ADDRESS_STOPS = set("到在寄是住送往给址的了我你他她您请帮把从去发收放说就都也还要想和与跟那这哪个")
# The end of an administrative unit inside the stretch before a street: 麒麟区|南宁西路.
_ADMIN_END_RE = re.compile(rf"[{_CJK}]{{2,}}?(?:省|州|盟)|[{_CJK}]+?(?:市|区|县|旗|镇|乡)|街道")
_NOT_ADMIN = ("小区", "社区", "园区", "校区", "景区", "街区", "厂区", "营区", "超市")
_MAX_PLACE_NAME = 5


@lru_cache(maxsize=1)
def _gazetteer_re() -> re.Pattern[str]:
    """The gazetteer's surface forms of two characters or more, longest first."""
    forms = sorted((f for f in gazetteer.aliases() if len(f) >= 2), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, forms)))


def _admin_end(stretch: str) -> int:
    """Where the administrative part of `stretch` (a run of Chinese before a street) ends."""
    end = 0
    for m in _ADMIN_END_RE.finditer(stretch):
        if not m.group(0).endswith(_NOT_ADMIN):
            end = max(end, m.end())
    for m in _gazetteer_re().finditer(stretch):
        end = max(end, m.end())
    return end


@dataclass
class _Part:
    start: int
    end: int
    unit: str | None = None  # None: a named part
    name: tuple[int, int] | None = None


def _named_parts(text: str, taken: list[_Part]) -> list[_Part]:
    """Named parts (南宁西路, 阳光花园) that do not reach back into a numbered part."""
    out: list[_Part] = []
    for m in _PLACE_RE.finditer(text):
        limit = max([p.end for p in taken + out if p.end <= m.start()], default=0)
        if any(p.start < m.end() and m.start() < p.end for p in taken + out):
            continue
        begin = m.start()
        while (begin > limit and _is_cjk(text[begin - 1])
               and text[begin - 1] not in _ADDRESS_STOPS and m.start() - begin < 12):
            begin -= 1
        stretch = text[begin:m.start()]
        begin += _admin_end(stretch)
        begin = max(begin, m.start() - _MAX_PLACE_NAME)
        if m.start() - begin >= 2:
            out.append(_Part(begin, m.end(), None, (begin, m.start())))
    return out


def _numbered_parts(text: str) -> list[_Part]:
    out = []
    for m in _UNIT_RE.finditer(text):
        if m.group("unit") == "号" and text[:m.start()].endswith(_DATE_BEFORE):
            continue
        out.append(_Part(m.start(), m.end(), m.group("unit")))
        if m.group("unit") in ("单元", "栋", "幢", "座", "楼", "层"):
            room = _ROOM_RE.match(text, m.end())
            if room:
                out.append(_Part(room.start(), room.end(), "室"))
    return out


def _is_address(chain: list[_Part]) -> bool:
    named = [p for p in chain if p.unit is None]
    if len(named) >= 2:
        return True
    if named:
        first = chain.index(named[0])
        return any(p.unit is not None for p in chain[first + 1:])
    return sum(p.unit in _BUILDING_UNITS for p in chain) >= 2


def find_addresses(text: str) -> list[Found]:
    """Street addresses in free text: from the street (or estate, or village) on.

    A chain of parts written one after the other (spaces allowed) is an address when it has
    a named part followed by a number (南宁西路88号, 水碓村3组), two named parts
    (水碓村大石巷), or two building/unit/room numbers (3栋2单元502室). The administrative
    part before the street (曲靖市麒麟区, 腾冲, 和顺镇) is not part of it. A lone number
    is not an address: 3号到的, 12月3号, 1号窗口, 送到3楼, 阳光小区门口.
    """
    numbered = _numbered_parts(text)
    parts = sorted(numbered + _named_parts(text, numbered), key=lambda p: p.start)
    chains: list[list[_Part]] = []
    for part in parts:
        if chains and (text[chains[-1][-1].end:part.start].strip(" \u3000") == ""
                       and chains[-1][-1].end <= part.start):
            chains[-1].append(part)
        else:
            chains.append([part])
    out = []
    for chain in chains:
        if _is_address(chain):
            names = tuple(p.name for p in chain if p.name is not None)
            out.append(Found(chain[0].start, chain[-1].end, "address", names=names))
    return out


# --- names ---

# Frequent single-character surnames (about the 400 most common, with the Yi surnames of
# Yunnan 者, 起, 保, 矣, 杞, 自) and compound surnames.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关"
    "兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻"
    "祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿"
    "桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠"
    "惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉"
    "禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修"
    "邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴"
    "昝智幸奉植衡富尧闭由者起保矣杞自")
COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
    "司徒", "夏侯", "轩辕", "令狐", "钟离", "闻人", "澹台", "公冶", "宗政", "濮阳", "淳于",
    "单于", "太叔", "申屠", "赫连", "端木", "南宫", "西门", "百里", "呼延", "第五", "万俟",
))
# Names in Yunnan that do not start with a Han surname: Dai names begin with 岩 (men) or
# 玉 (women), nobles' with 刀 or 召; 依, 咪 and 艾 also start Dai and Hani given names.
YUNNAN_NAME_STARTS = frozenset("岩玉刀召依咪艾")
# Surnames that are also everyday words: after 我是/本人 they do not start a name (我是来投诉的).
_FUNCTION_SURNAMES = frozenset("来向于和时都那但由全成应相从明国平利公海花强门云区位计初居干"
                               "展富智幸元原南乐官封谈查简车项连管路游党费冷边师商沙荣池迟"
                               "满闻权盖练支宣容敬普薄阿乌母修宿鲜印隆战危银衣信奉闭者起保自"
                               "第单包")
# Where a name ends: particles, pronouns, verbs that follow a name, and the start of these words.
_NAME_STOPS = set("的了是在和与跟给从要想来去说问请帮我你他她您们啊呀吗呢吧哦嗯也都就还不没已未"
                  "被把让对到寄收取查送拿打叫找住等及或这那哪谁什么个号很太又再总却"
                  "，,。.！!？?；;：:、 \t\n")
_NAME_END_WORDS = ("先生", "女士", "小姐", "师傅", "老师", "同志", "电话", "手机", "地址",
                   "今天", "明天", "昨天", "快递", "邮件", "邮箱", "邮政", "身份", "联系",
                   "家里", "号码", "单号", "签收", "代收", "态度", "服务", "派件", "送件",
                   "投递", "每次", "一直", "根本", "非常", "从来")
# Words right after 我是/收件人 that are not names (roles, places, times, common words).
_NOT_NAMES = (
    "本人", "他人", "门卫", "前台", "收发室", "物业", "保安", "驿站", "快递", "家人", "同事",
    "邻居", "朋友", "自己", "老婆", "老公", "爸爸", "妈妈", "父亲", "母亲", "女儿", "儿子",
    "孩子", "老人", "公司", "单位", "客户", "用户", "商家", "卖家", "买家", "房东", "司机",
    "学生", "老师", "高中", "初中", "包裹", "江苏", "江西", "云南", "贵州", "广东", "广西",
    "海南", "上海", "北京", "申通", "普通", "马上", "明天", "明年", "文件", "石头", "安全",
    "农村", "农民", "华为", "海外", "元旦", "国庆", "平时", "全部", "成功", "应该", "时候",
    "万一", "方便", "关于", "高兴", "高铁", "周一", "周二", "周三", "周四", "周五", "周六",
    "周日", "周末", "周边", "昆明", "曲靖", "玉溪", "保山", "昭通", "丽江", "普洱", "临沧",
    "楚雄", "红河", "文山", "西双版纳", "大理", "德宏", "怒江", "迪庆", "个体", "吉林",
    "黄金", "白天", "金额", "谢谢", "向您", "于是", "任何", "程序", "严重", "史上", "章节",
    "付价", "付款", "付钱", "付费", "付运", "付邮", "严肃", "严格", "自行", "自取", "自提",
)
_NOT_NAMES_RE = re.compile("|".join(sorted(_NOT_NAMES, key=len, reverse=True)))
_LONGEST_NOT_NAME = max(map(len, _NOT_NAMES))
_TITLES = ("先生", "女士", "小姐", "师傅", "老师")
_TITLE_RE = re.compile("|".join(_TITLES))
# After these a name follows whatever it starts with (收件人：岩温); after the weak ones
# (我是, 本人, 快递员) only a name that starts with a known surname counts.
_STRONG_LABELS = ("收件人", "寄件人", "联系人", "签收人", "取件人", "收货人", "姓名",
                  "名字叫", "名字是", "我叫")
_WEAK_LABELS = ("我是", "本人", "快递员", "投递员", "邮递员", "派件员", "揽投员")
_LABEL_RE = re.compile(
    "(?P<label>" + "|".join(sorted(_STRONG_LABELS + _WEAK_LABELS, key=len, reverse=True)) + ")"
    r"(?P<sep>[ \u3000]*[：:][ \u3000]*(?:是|为)?|[ \u3000]*(?:是|为|叫)|)[ \u3000]*")
# Before 我叫/我是 these make it someone else's action: 帮我叫一下人工, 让我是……
_NOT_SELF = tuple("帮给替让请把为和跟叫说")
# What may stand right before a name that is followed by 先生/女士 (谢谢张三先生, 客户王芳女士).
_NAME_BEFORE = _NAME_STOPS | set("系员人户位谢诉知")


def _surname_at(text: str, pos: int) -> int:
    """Length of the known surname starting at `pos` (2 compound, 1 single, 0 none)."""
    if text[pos:pos + 2] in COMPOUND_SURNAMES:
        return 2
    return 1 if pos < len(text) and text[pos] in SURNAMES | YUNNAN_NAME_STARTS else 0


def _name_chars(text: str, pos: int, most: int) -> int:
    """How many characters from `pos` can belong to a name (at most `most`)."""
    n = 0
    while n < most and pos + n < len(text):
        ch = text[pos + n]
        if not _is_cjk(ch) or ch in _NAME_STOPS or text.startswith(_NAME_END_WORDS, pos + n):
            break
        n += 1
    return n


def _not_a_name(text: str, pos: int) -> bool:
    return text.startswith(_NOT_NAMES, pos) or _gazetteer_re().match(text, pos) is not None


def _inside_word(text: str, pos: int) -> bool:
    """Whether `pos` is inside one of the words that are not names (谢谢|张先生)."""
    for back in range(1, min(pos, _LONGEST_NOT_NAME - 1) + 1):
        m = _NOT_NAMES_RE.match(text, pos - back)  # the longest such word there
        if m is not None and m.end() > pos:
            return True
    return False


def _labelled_names(text: str) -> list[Found]:
    out = []
    for m in _LABEL_RE.finditer(text):
        pos = m.end()
        if pos >= len(text) or not _is_cjk(text[pos]) or _not_a_name(text, pos):
            continue
        label = m.group("label")
        if label in ("我是", "我叫") and text[:m.start()].endswith(_NOT_SELF):
            continue  # 帮我叫一下人工: not the customer's name
        strong = label in _STRONG_LABELS
        separated = bool(m.group("sep").strip()) or label in ("名字叫", "名字是", "我叫")
        surname = _surname_at(text, pos)
        if surname and not (not separated and surname == 1 and text[pos] in _FUNCTION_SURNAMES):
            given = _name_chars(text, pos + surname, 2)
            length = surname + given if given else 0
        elif strong and separated:
            length = _name_chars(text, pos, 4)
            length = length if length >= 2 else 0
        else:
            length = 0
        if length:
            out.append(Found(pos, pos + length, "name", clear=((pos, pos + 1),)))
    return out


def _titled_names(text: str) -> list[Found]:
    """张三丰先生, 欧阳娜娜女士: a surname and a given name before a title (张先生 alone stays)."""
    out = []
    for m in _TITLE_RE.finditer(text):
        end = m.start()
        for length in range(2, 5):  # the shortest reading: 谢谢张三先生 is 张三
            start = end - length
            if start < 0:
                break
            if start > 0 and _is_cjk(text[start - 1]) and text[start - 1] not in _NAME_BEFORE:
                continue
            surname = _surname_at(text, start)
            given = length - surname
            if (surname and 1 <= given <= 2 and text[start] not in _FUNCTION_SURNAMES
                    and _name_chars(text, start + surname, given) == given
                    and not _not_a_name(text, start) and not _inside_word(text, start)):
                out.append(Found(start, end, "name", clear=((start, start + 1),)))
                break
    return out


def find_names(text: str) -> list[Found]:
    """People's names in free text, found by their context.

    After a label (我叫, 收件人：, 姓名, 联系人是, 签收人) whatever name-like word follows,
    also a Dai name without a Han surname (收件人：岩温); after 我是, 本人 or 快递员 only a
    name that starts with a common surname (我是张三丰, not 我是来投诉的); and a surname
    with a given name before 先生/女士/小姐/师傅/老师 (张三丰先生). A surname with a title
    and no given name (张先生, 王师傅) names no one and is left as it is.
    """
    found = {(f.start, f.end): f for f in _labelled_names(text) + _titled_names(text)}
    return sorted(found.values(), key=lambda f: f.start)


# --- all together ---


def _ids_and_phones(text: str) -> list[Found]:
    out = [Found(m.start(), m.end(), "id") for p in (ID18_RE, ID15_RE) for m in p.finditer(text)]
    out += [Found(m.start(), m.end(), "phone") for m in phones.PHONE_RE.finditer(text)]
    # Read out on the phone (幺三九 八七四五 …): as personal as typed digits.
    out += [Found(n.start, n.end, "phone") for n in spoken.read_numbers(text)
            if n.kind == "phone_number"]
    return out


def find_personal(text: str, kinds: tuple[str, ...] = _KINDS) -> list[Found]:
    """Every piece of personal data in `text`, in order and without overlaps.

    Where two overlap, the kind earlier in ``("email", "id", "phone", "address", "name")``
    wins (an e-mail address made of a mobile number is an e-mail address).
    """
    candidates: list[Found] = []
    if "email" in kinds:
        candidates += find_emails(text)
    if "id" in kinds or "phone" in kinds:
        candidates += [f for f in _ids_and_phones(text) if f.kind in kinds]
    if "address" in kinds:
        candidates += find_addresses(text)
    if "name" in kinds:
        candidates += find_names(text)
    chosen: list[Found] = []
    for f in sorted(candidates, key=lambda f: (_KINDS.index(f.kind), f.start)):
        if all(f.end <= c.start or f.start >= c.end for c in chosen):
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.start)


def _masked(text: str, found: Found) -> str:
    value = text[found.start:found.end]
    if found.kind == "email":
        at = found.clear[1][0] - found.start
        return value[0] + STAR * 3 + value[at:]
    if found.kind == "id":
        return mask_id(value)
    if found.kind == "phone":
        return mask_phone(value)
    if found.kind == "name":
        return mask_name(value)
    return HIDDEN


def mask_text(text: str) -> str:
    """Mask the personal data in free text (for logs, exports, trainer views and reports).

    Phones 138****5678, ID numbers 5301**********1234, e-mails z***@qq.com, street addresses
    from the street on (寄到曲靖市麒麟区****), names 张** (我是张**, 收件人：岩*, 张**先生).
    Tracking numbers are left alone: a 13-digit mail number is neither a phone nor an ID;
    so are dates and counters such as 12月3号 and 1号窗口.
    """
    out, at = [], 0
    for found in find_personal(text):
        out.append(text[at:found.start])
        out.append(_masked(text, found))
        at = found.end
    out.append(text[at:])
    return "".join(out)


def mask_in_place(text: str, kinds: tuple[str, ...] = ("email", "address", "name")) -> str:
    """`text` with the personal data of `kinds` starred character by character.

    Nothing moves, so offsets on the result are offsets in `text` (the trainers' inbox
    marks entities by position): ``zhang.san@qq.com`` -> ``z********@qq.com``, ``张三丰`` ->
    ``张**``, an address keeps its administrative part and stars the rest.
    """
    chars = list(text)
    for found in find_personal(text, kinds):
        for i in range(found.start, found.end):
            if not any(a <= i < b for a, b in found.clear) and not text[i].isspace():
                chars[i] = STAR
    return "".join(chars)
