"""Chinese surnames and given-name characters with pinyin and sampling weights."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

# surname:pinyin:weight (per 10,000 people; approximate shares from national household
# registration statistics). Compound surnames are included with small weights.
_SURNAMES: Final = """
王:wang:712 李:li:700 张:zhang:672 刘:liu:538 陈:chen:461 杨:yang:322 黄:huang:245 赵:zhao:219
吴:wu:200 周:zhou:195 徐:xu:145 孙:sun:138 马:ma:129 朱:zhu:128 胡:hu:116 郭:guo:114 何:he:106
林:lin:102 罗:luo:95 高:gao:95 郑:zheng:87 梁:liang:86 谢:xie:80 宋:song:72 唐:tang:71 许:xu:66
韩:han:64 邓:deng:63 冯:feng:63 曹:cao:62 彭:peng:61 曾:zeng:60 肖:xiao:59 田:tian:57
董:dong:56 潘:pan:55 袁:yuan:54 蔡:cai:52 蒋:jiang:51 余:yu:50 于:yu:50 杜:du:49 叶:ye:48
程:cheng:48 魏:wei:47 苏:su:46 吕:lv:45 丁:ding:44 任:ren:43 卢:lu:42 姚:yao:41 沈:shen:40
钟:zhong:40 姜:jiang:39 崔:cui:38 谭:tan:37 陆:lu:37 范:fan:36 汪:wang:35 廖:liao:35 石:shi:34
金:jin:34 韦:wei:33 贾:jia:33 夏:xia:32 付:fu:32 方:fang:31 邹:zou:31 熊:xiong:30 白:bai:30
孟:meng:29 秦:qin:29 邱:qiu:28 侯:hou:28 江:jiang:28 尹:yin:27 薛:xue:27 闫:yan:26 段:duan:26
雷:lei:25 龙:long:25 黎:li:24 史:shi:24 陶:tao:23 贺:he:23 毛:mao:22 郝:hao:22 顾:gu:21
龚:gong:21 邵:shao:20 万:wan:20 覃:qin:20 武:wu:19 钱:qian:19 戴:dai:19 严:yan:18 莫:mo:18
孔:kong:17 向:xiang:17 常:chang:17 汤:tang:16 康:kang:16 易:yi:15 乔:qiao:15 赖:lai:15
文:wen:14 施:shi:14 洪:hong:14 辛:xin:12 柴:chai:11 欧阳:ouyang:8 司马:sima:2 上官:shangguan:2
诸葛:zhuge:2 东方:dongfang:1 皇甫:huangfu:1 尉迟:yuchi:1 令狐:linghu:1 慕容:murong:1
"""

# Given-name characters: char:pinyin, grouped by gender lean.
_MALE: Final = """
伟:wei 强:qiang 磊:lei 军:jun 勇:yong 杰:jie 涛:tao 斌:bin 超:chao 明:ming 刚:gang 平:ping
辉:hui 鹏:peng 华:hua 飞:fei 鑫:xin 波:bo 宇:yu 浩:hao 凯:kai 健:jian 俊:jun 帆:fan 帅:shuai
旭:xu 龙:long 阳:yang 建:jian 国:guo 志:zhi 博:bo 峰:feng 东:dong 海:hai 亮:liang 成:cheng
哲:zhe 睿:rui 轩:xuan 泽:ze 铭:ming 豪:hao 天:tian 毅:yi 诚:cheng 骏:jun 坤:kun 彬:bin
栋:dong 斌:bin 锋:feng 军:jun 兵:bing 涛:tao 昊:hao 晨:chen 瑞:rui 弘:hong
"""
_FEMALE: Final = """
芳:fang 娜:na 敏:min 静:jing 丽:li 艳:yan 娟:juan 霞:xia 秀:xiu 燕:yan 玲:ling 桂:gui 丹:dan
萍:ping 红:hong 梅:mei 琳:lin 婷:ting 雪:xue 慧:hui 颖:ying 倩:qian 洁:jie 琪:qi 欣:xin
怡:yi 悦:yue 雨:yu 涵:han 萱:xuan 诗:shi 梦:meng 晶:jing 莉:li 薇:wei 兰:lan 凤:feng 英:ying
芬:fen 璐:lu 瑶:yao 妍:yan 婧:jing 露:lu 蕾:lei 月:yue 彤:tong 馨:xin 雅:ya 娇:jiao 淑:shu
"""
_NEUTRAL: Final = """
文:wen 晓:xiao 思:si 安:an 小:xiao 新:xin 春:chun 秋:qiu 金:jin 云:yun 玉:yu 永:yong 立:li
振:zhen 德:de 庆:qing 一:yi 子:zi 心:xin 若:ruo 清:qing 嘉:jia 佳:jia 家:jia 林:lin 宁:ning
晓:xiao 彦:yan 乐:le 雨:yu 可:ke 艺:yi 逸:yi 书:shu 明:ming 思:si
"""

LEAN_SHARE: Final = 0.7  # share of characters drawn from the gender-leaning list
TWO_CHAR_SHARE: Final = 0.75  # share of given names with two characters


def _pairs(text: str) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for item in text.split():
        char, pinyin = item.split(":")[:2]
        seen.setdefault(char, pinyin)
    return list(seen.items())


def _cdf(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return cdf


@dataclass(frozen=True, slots=True)
class NameTables:
    """Vectorised lookup tables for names and their pinyin."""

    surname: pl.Series
    surname_pinyin: pl.Series
    surname_cdf: npt.NDArray[np.float64]
    given: pl.Series  # last entry is "" (no second character)
    given_pinyin: pl.Series
    male_cdf: npt.NDArray[np.float64]
    female_cdf: npt.NDArray[np.float64]

    @property
    def empty_given(self) -> int:
        return len(self.given) - 1


@cache
def name_tables() -> NameTables:
    """Build (once) the surname and given-name tables."""
    surnames = [item.split(":") for item in _SURNAMES.split()]
    male = _pairs(_MALE)
    female = [p for p in _pairs(_FEMALE) if p[0] not in dict(male)]
    taken = dict(male) | dict(female)
    neutral = [p for p in _pairs(_NEUTRAL) if p[0] not in taken]
    given = male + female + neutral
    n_m, n_f, n_n = len(male), len(female), len(neutral)
    lean_m = np.r_[
        np.full(n_m, LEAN_SHARE / n_m), np.zeros(n_f), np.full(n_n, (1 - LEAN_SHARE) / n_n)
    ]
    lean_f = np.r_[
        np.zeros(n_m), np.full(n_f, LEAN_SHARE / n_f), np.full(n_n, (1 - LEAN_SHARE) / n_n)
    ]
    return NameTables(
        surname=pl.Series("surname", [s[0] for s in surnames], dtype=pl.String),
        surname_pinyin=pl.Series("surname_py", [s[1] for s in surnames], dtype=pl.String),
        surname_cdf=_cdf(np.array([float(s[2]) for s in surnames])),
        given=pl.Series("given", [g[0] for g in given] + [""], dtype=pl.String),
        given_pinyin=pl.Series("given_py", [g[1] for g in given] + [""], dtype=pl.String),
        male_cdf=_cdf(lean_m),
        female_cdf=_cdf(lean_f),
    )


def male_leaning() -> frozenset[str]:
    """Characters on the male-leaning list (for tests and inspection)."""
    return frozenset(c for c, _ in _pairs(_MALE))


def female_leaning() -> frozenset[str]:
    """Characters on the female-leaning list, minus any also on the male list."""
    male = male_leaning()
    return frozenset(c for c, _ in _pairs(_FEMALE) if c not in male)
