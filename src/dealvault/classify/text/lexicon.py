"""Free-text word lists and reference data: name and address cues, region names."""

from __future__ import annotations

from functools import cache
from typing import Final

import polars as pl

from dealvault.synth.names import name_tables
from dealvault.synth.regions import read_loc_dat

# Names: a cue word, or a title after the name (the cue and the title are not in the span).
_NAME_CUES: Final = (
    "联系人|收货人|收件人|寄件人|持卡人|开户人|客户|顾客|用户|会员|户主|姓名|名字|业主|家属"
    "|患者|车主|买家|本人"
)
_NAME_CUE_TAIL: Final = r"[:：\s]?(?:是|为|叫)?"
_TITLES: Final = (
    "先生|女士|小姐|太太|夫人|老师|师傅|经理|总监|主任|阿姨|老板|律师|医生|同学|大爷|大妈|总经理|总"
)
#: what may follow a title 总 that makes it a word (总统, 总书记): 李总 is a person, 蒙古总统 and
#: 该党总书记 are not
TITLE_ZONG_WORDS: Final = "统理书部共计结额数量体裁之而的是务局会站台署督司长编"
# Surnames beyond the synthetic generator's list; characters that are also very common
# words right after a cue (来, 要, 在, 和, ...) are deliberately left out.
_EXTRA_SURNAMES: Final = (
    "傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文庞樊兰殷施陶洪翟颜倪严牛温季俞章鲁葛伍韦尤毕聂焦柳邢"
    "岳齐梅莫庄辛管祝左涂谷祁舒耿牟卜詹苗凌费纪靳盛童欧甄项曲游裴席卫屈鲍覃霍翁隋甘景包柏宁柯阮"
    "桂闵柴冉房边辜吉饶刁瞿戚丘古米池滕晋苑邬臧宫苟褚廉简娄符奚穆党燕郎冀谈姬屠连郜晏栾郁蒙喻窦"
    "迟敖鄢冷卓艾蓝巩井仲虞卞封竺冼楚佟栗匡宗巫鞠桑荆谌岑胥蔺"
)
_COMPOUND_SURNAMES: Final = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "令狐", "慕容")
# Characters common in given names (the generator's lists are added at run time).
_EXTRA_GIVEN: Final = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志玉红梅文斌宇浩凯鹏飞鑫波俊帆帅旭龙"
    "阳峰东海亮成哲睿轩泽铭豪毅诚骏坤彬栋锋兵昊晨瑞弘晓思安春秋金云永立振德庆子若清嘉佳家林宁彦"
    "乐雨可艺逸书琳婷雪慧颖倩洁琪欣怡悦涵萱诗梦晶莉薇凤芬璐瑶妍婧露蕾月彤馨雅娇淑丹萍燕玲荣辉健"
    "光福祥胜利宏伦良贵富顺信义兴昌盛民友山仁宝寿虎鸿彪武君卫江河洪源泉川宾翔雄才远舟航琦皓然昕"
    "博锐恒晖朝达奇楠柏松竹菊莲荷茜蓉芸芝莎珊珍珠琼瑾璇岚娅婉媛嫣姗妮娴婕冰晴霏霖雯青翠碧素娥巧"
    "美惠爱聪颜宗政治仲元冬昭晗曦星辰宸沐沛淳瀚灏煜烨炜焕熙坚峻崇嵩岩钢锦钧银璋瑜琛琨璟珂玮禄喜"
    "吉康泰和礼智忠孝廉正耀彩旋通湖溪霜风雷三四"
)
# Two-character words that look like surname + given name right after a cue (a name is
# dropped when it is exactly one of them; 黄金丽 stays a name, 黄金 alone does not).
_NAME_STOPWORD_TEXT: Final = (
    "黄金 白天 安心 安静 关心 文明 高兴 方便 明天 宁静 江山 万一 高明 金华 龙华 平安 余华 白云"
    " 石林 文华 高新 华为 金龙 吉利 康泰 秦汉 宁波 吉林 海南 江西 云南 贵州 林芝 和平 古城 包子"
    " 宫廷 童年 严重 温和 牛奶 常见 尤其 简单 连续 燕麦 卓越 冷静 蓝天 兰州 项目 纪念 管理 邢台"
    " 周一 周三 周四 周末 于一 高一 高三 田园 金山 江东 江北 方正"
)
_NAME_STOPWORDS: Final = frozenset(_NAME_STOPWORD_TEXT.split())
NAME_STOPWORDS: Final = _NAME_STOPWORDS

# Addresses: gazetteer (province / prefecture / county names) plus a street-level detail.
_NUMBER: Final = r"(?:[0-9]{1,5}(?:[\-－][0-9]{1,5})?|[一二三四五六七八九十百零〇]{1,5})"
_UNIT: Final = r"(?:[\p{Han}A-Za-z]{0,10}?[0-9A-Za-z\-]{1,6}(?:号楼|栋|幢|座|单元|室|楼|层|号|户))*"
_STREET: Final = (
    r"[\p{Han}A-Za-z0-9]{0,15}?(?:大道|大街|路|街|巷|弄|胡同)" + _NUMBER + "(?:号|弄|巷)" + _UNIT
)
_COMMUNITY: Final = (
    r"[\p{Han}A-Za-z]{1,12}?(?:小区|花园|公寓|大厦|家园|新村|苑|广场|社区)"
    r"[0-9A-Za-z\-]{1,6}(?:号楼|栋|幢|座)" + _UNIT
)
_VILLAGE: Final = r"[\p{Han}]{0,8}?(?:镇|乡)[\p{Han}]{1,8}?村(?:[0-9一二三四五六七八九十]{1,3}组)?"
_ADDRESS_DETAIL: Final = f"(?:{_STREET}|{_COMMUNITY}|{_VILLAGE})"
_ADDRESS_CUES: Final = (
    "收货地址|家庭地址|联系地址|送货地址|邮寄地址|地址|住址|邮寄到|寄到|送到|送至|寄至|住在|家住|位于"
    "|改到|改为"
)
_ADDRESS_WINDOW: Final = 64  # characters after the region names searched for a detail
_ADDRESS_CUE_TAIL: Final = r"[:：\s]?(?:为|是|在)?"
_PLACEHOLDER_REGIONS: Final = frozenset({"市辖区", "县", "郊区", "矿区", "城区"})
_EXCLUDED_PROVINCE_CODES: Final = frozenset({"71", "81", "82"})
# ---------------------------------------------------------------------------------------
# Reference data


def _alternation(words: set[str] | frozenset[str]) -> str:
    """Leftmost-first alternation of literal words, longest first (so it prefers them)."""
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))


@cache
def _regions() -> tuple[pl.Series, pl.Series]:
    """Known 2-digit province codes and 6-digit region codes (any period) from loc.dat."""
    provinces, entries = read_loc_dat()
    return (
        pl.Series("province", sorted({*provinces, "83"}), dtype=pl.String),
        pl.Series("region", sorted(entries), dtype=pl.String),
    )


@cache
def _admin_pattern() -> str:
    """Alternation of province, prefecture and county names (and their short forms).

    A flat alternation of literals: the regex engine runs it as an Aho-Corasick search,
    which stays fast on address-heavy text (nested optional alternations did not).
    Consecutive names ("浙江省" "杭州市" "西湖区") are joined afterwards.
    """
    provinces, entries = read_loc_dat()
    names: set[str] = set()
    for code, name in provinces.items():
        if code in _EXCLUDED_PROVINCE_CODES:
            continue
        names.add(name)
        for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                names.add(name[: -len(suffix)])
                break
    for code, entry in entries.items():
        current = entry.current_name
        if (
            current is None
            or code[:2] in _EXCLUDED_PROVINCE_CODES
            or code.endswith("0000")
            or current in _PLACEHOLDER_REGIONS
            or "直辖" in current
            or len(current) < 2
        ):
            continue
        names.add(current)
        if code.endswith("00") and current.endswith("市") and len(current) >= 3:
            names.add(current[:-1])  # 杭州 for 杭州市
    return _alternation(names)


@cache
def single_surnames() -> frozenset[str]:
    """One-character surnames: the generator's and the extra ones."""
    tables = name_tables()
    return frozenset({s for s in tables.surname.to_list() if len(s) == 1} | set(_EXTRA_SURNAMES))


@cache
def _name_classes() -> tuple[str, str]:
    """Regex pieces for a surname and for one given-name character."""
    tables = name_tables()
    singles = single_surnames()
    compounds = {s for s in tables.surname.to_list() if len(s) > 1} | set(_COMPOUND_SURNAMES)
    given = {g for g in tables.given.to_list() if len(g) == 1} | set(_EXTRA_GIVEN)
    surname = f"(?:{_alternation(compounds)}|[{''.join(sorted(singles))}])"
    return surname, f"[{''.join(sorted(given))}]"


@cache
def _cue_pattern() -> str:
    """Names after a cue, names before a title, and street addresses after a cue."""
    surname, given = _name_classes()
    cued_name = f"(?:{_NAME_CUES}){_NAME_CUE_TAIL}{surname}{given}{{1,2}}"
    titled_name = f"{surname}{given}{{0,2}}(?:{_TITLES})"
    cued_address = f"(?:{_ADDRESS_CUES}){_ADDRESS_CUE_TAIL}{_ADDRESS_DETAIL}"
    return f"{cued_name}|{cued_address}|{titled_name}"
