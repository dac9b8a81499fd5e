"""Free-text spans of the statistical model: names and addresses without a cue word."""

from __future__ import annotations

import functools
from typing import Final

import polars as pl

from dealvault.classify import ner
from dealvault.classify.spans import SPAN_SCHEMA
from dealvault.classify.text.lexicon import NAME_STOPWORDS, single_surnames

#: confidence of a model span (patterns with a validator or a cue rank above it)
CONFIDENCE: Final = {"cn_name": 0.8, "cn_address": 0.8}
#: what a model span must look like to be kept: a name is 2-8 Han characters, or Han runs
#: joined by a middle dot or dash (居来提·土尔地, 施特劳斯—卡恩), or a single surname (王 of
#: 王大娘, 杜 of 杜氏: a person reference); an address holds a place or street word and is at
#: least 40% Han characters (long digit runs after 单号 or 编号 are not addresses)
_NAME: Final = (
    r"^(?:[\u3400-\u9fff]{2,8}|[\u3400-\u9fff]{1,8}(?:[·•・．—\-][\u3400-\u9fff]{1,8}){1,3})$"
)
#: function words that never start a name (a run of them is filler, not a person)
_NOT_FIRST: Final = (
    r"^[的了是在和与或而把被对让给到就都也很又还这那我你他她它们得着过会要能吗呢吧啊哦嗯]"
)
_PLACE: Final = r"[省市区县镇乡村路街道巷弄楼栋室苑园里庄屯旗盟州]"
#: how an address the model reads past the patterns' end may end (a number, a building, a
#: room): otherwise the patterns' end stands
_ADDRESS_END: Final = r"[0-9０-９号楼栋室座层厦场心园苑元院区城馆店]"
#: the provinces, autonomous regions, municipalities and special regions: an address starts
#: with one of them or below them
_PROVINCES: Final = (
    "北京|天津|河北|山西|内蒙古|辽宁|吉林|黑龙江|上海|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南"
    "|广东|广西|海南|重庆|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|台湾|香港|澳门"
)
#: everyday words of service notes, some starting with a surname character (谢谢, 金额)
_WORDS: Final = (
    "谢谢 金额 余额 余下 包裹 包装 包括 包邮 费用 任何 任务 顾客 顾问 管理 陆续 万元 万分"
    " 温度 温馨 毕业 方式 方面 方案 方法 方向 周期 周边 周年 高速 高端 高级 程序 程度 马上"
    " 许多 许可 常用 常规 齐全 季度 夏季 连接 林业 黄色 白色 孙子 毛病 江湖 章程 甘心 向往"
    " 宁可 雷同 石头 苏醒 景点 黎明 钱包 史上 张贴 李子 严格 严禁 汤圆 康复 易用 易碎 房子"
    " 房间 段落 段时 杨树 文件 文字 武器 洪水 谈话 贺卡 龙头 卫生 古代 左右 于是 于此 向来"
    " 伍佰 项目 秦岭 柏油 曲线 岳父 祝福 刘海 田地 霍乱 邵阳 客户 号码 关于 关注 关系 安装"
    " 安全 安排 单号 路线 成功 成本 时间 计划 全部 习惯 邮费 尚未 申请 查询 查看 应该 司机"
    " 商品 车辆 明白 明确 明显 明细 时候 经理 相关 相同 电话 地址 手机 订单 退款 退货 发货"
    " 快递 收到 问题 处理 回复 联系 服务 投诉 售后 客服 产品 质量 价格 优惠 活动 会员 积分"
    " 账户 账号 密码 银行 信息 身份 证件 工作 今天 明天 昨天 上午 下午 晚上 已经 可以 需要"
    " 希望 感谢 麻烦 确认 核实 反馈 满意 不满 情况 原因 要求 提供 告知 通知 说明 备注"
)


def model_spans(series: pl.Series, *, found: pl.DataFrame) -> pl.DataFrame:
    """Spans (``SPAN_SCHEMA``) the model finds in each row of ``series`` (nulls: none) that
    overlap none of the spans ``found`` by patterns and cues: where both see something, the
    validated or cued span and its boundaries win. Only rows holding a Han character are
    tagged: the model knows Chinese names and addresses."""
    han = series.str.contains(r"[\u3400-\u9fff]").fill_null(False)
    rows = han.arg_true().to_list()
    if not rows:
        return pl.DataFrame(schema=SPAN_SCHEMA)
    texts = series.gather(rows).to_list()
    tagged = ner.tag([t or "" for t in texts])
    out = [
        (row, start, end, kind, CONFIDENCE[kind])
        for row, spans in zip(rows, tagged, strict=True)
        for start, end, kind in spans
    ]
    spans = _plausible(pl.DataFrame(out, schema=SPAN_SCHEMA, orient="row"), series)
    last = series.gather(spans.get_column("row")).str.slice(spans.get_column("end") - 1, 1)
    spans = spans.with_row_index("__id").with_columns(
        last.str.contains(_ADDRESS_END).fill_null(False).alias("__ends_well")
    )
    if found.height == 0 or spans.height == 0:
        return spans.drop("__id", "__ends_well")
    first = series.gather(found.get_column("row")).str.slice(found.get_column("start"), 3)
    others = found.select(
        "row",
        pl.col("start").alias("__s"),
        pl.col("end").alias("__e"),
        pl.col("pii_type").alias("__t"),
    ).with_columns(__top=first.str.contains(f"^(?:{_PROVINCES})").fill_null(False))
    # an address the model reads further than the patterns did (a building, a room; the
    # start of 江东区 where the patterns saw only 东区) keeps its length: a pattern address
    # inside a model address is no clash, unless it holds two of them (two addresses the
    # model ran together); nothing is read before a province (会辽宁省… starts at 辽宁省)
    longer_address = (
        pl.col("__ends_well")
        & (pl.col("pii_type") == "cn_address")
        & (pl.col("__t") == "cn_address")
        & (
            (pl.col("start") == pl.col("__s"))
            | ((pl.col("start") < pl.col("__s")) & ~pl.col("__top"))
        )
        & (pl.col("__e") <= pl.col("end"))
    )
    overlapping = spans.join(others, on="row").filter(
        (pl.col("start") < pl.col("__e")) & (pl.col("__s") < pl.col("end"))
    )
    clash = (
        overlapping.group_by("__id")
        .agg(bad=(~longer_address).any(), held=longer_address.sum())
        .filter(pl.col("bad") | (pl.col("held") > 1))
        .get_column("__id")
    )
    return spans.filter(~pl.col("__id").is_in(clash.implode())).drop("__id", "__ends_well")


@functools.cache
def _common_words() -> pl.Series:
    """Everyday two-character words of service notes (and the cue patterns' list of words
    that look like a surname and a given name): never a name on their own."""
    return pl.Series(sorted(_WORDS.split() + sorted(NAME_STOPWORDS)), dtype=pl.String).implode()


def _plausible(spans: pl.DataFrame, series: pl.Series) -> pl.DataFrame:
    """The model's spans that look like what they claim (see ``_NAME`` and ``_PLACE``)."""
    if spans.height == 0:
        return spans
    text = series.gather(spans.get_column("row")).str.slice(
        spans.get_column("start"), spans.get_column("end") - spans.get_column("start")
    )
    han = text.str.count_matches(r"[\u3400-\u9fff]")
    kind = spans.get_column("pii_type")
    surnames = pl.Series(sorted(single_surnames()), dtype=pl.String).implode()
    # everyday words of service notes are no name on their own (客户, 谢谢, 金额, 余额)
    word = text.is_in(_common_words())
    name = (text.str.contains(_NAME) & ~text.str.contains(_NOT_FIRST) & ~word) | text.is_in(
        surnames
    )
    keep = ((kind == "cn_name") & name) | (
        (kind == "cn_address") & text.str.contains(_PLACE) & (han >= 0.4 * text.str.len_chars())
    )
    return spans.filter(keep.fill_null(False))
