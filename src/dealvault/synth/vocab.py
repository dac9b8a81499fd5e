"""Word lists for synthetic exports: products, streets, e-mail domains and note phrases."""

from __future__ import annotations

from typing import Final

# (category, size, unit price in fen, popularity weight)
PRODUCTS: Final[tuple[tuple[str, str, int, float], ...]] = (
    ("洗衣液", "1kg", 1990, 6.0),
    ("洗衣液", "2kg", 3590, 8.0),
    ("洗衣液", "3kg", 4990, 4.0),
    ("洗洁精", "500g", 790, 5.0),
    ("洗洁精", "1.5kg", 1590, 4.0),
    ("消毒液", "500ml", 1290, 3.0),
    ("消毒液", "1L", 2290, 2.5),
    ("地板清洁剂", "1L", 2590, 2.0),
    ("地板清洁剂", "2L", 4590, 1.0),
    ("玻璃清洁剂", "500ml", 1390, 1.5),
    ("洁厕灵", "500g", 890, 3.0),
    ("洁厕灵", "1kg", 1490, 2.0),
    ("柔顺剂", "1L", 2690, 2.0),
    ("柔顺剂", "2.5L", 5490, 1.0),
    ("除菌喷雾", "300ml", 2990, 1.5),
    ("洗衣凝珠", "30颗", 3990, 2.0),
    ("洗衣凝珠", "52颗", 5990, 1.0),
    ("油污净", "500g", 1690, 1.5),
    ("厨房湿巾", "80抽", 1290, 1.5),
    ("管道疏通剂", "500ml", 1990, 0.8),
    ("除螨喷雾", "400ml", 3690, 0.8),
    ("衣物除菌液", "1L", 3290, 1.2),
)

# Categories in first-appearance order, with the weight customers name one as a preference.
CATEGORIES: Final[tuple[str, ...]] = tuple(dict.fromkeys(p[0] for p in PRODUCTS))

# (label, share of customers, order-rate multiplier)
FREQUENCIES: Final[tuple[tuple[str, float, float], ...]] = (
    ("每周", 0.10, 2.0),
    ("每月", 0.45, 1.2),
    ("每季度", 0.25, 0.7),
    ("偶尔", 0.20, 0.4),
)

STREET_STEMS: Final = tuple(
    """人民 解放 中山 建设 和平 新华 胜利 长江 黄河 文化 东风 光明 幸福 青年 学府 滨江 湖滨 迎宾
    工业 科技 创业 友谊 团结 民主 延安 复兴 振兴 花园 体育 金沙 滨河 沿江 高新 开发 世纪 长安
    五一 八一 红旗 建国 新城 府前 文昌 育才 春华 锦绣 百花 和谐 富民 龙腾 银河 望江 翠湖""".split()  # noqa: SIM905
)
STREET_SUFFIXES: Final = ("路", "路", "路", "街", "大道", "东路", "西路", "南路", "北路", "大街")
COMMUNITIES: Final = tuple(
    """阳光 金色 碧水 翡翠 锦江 紫荆 绿洲 怡景 华庭 书香 丽景 名都 万科 东方 海棠 桂园 御景
    枫林 颐和 凤凰 天悦 观澜 银座 福苑""".split()  # noqa: SIM905
)
COMMUNITY_SUFFIXES: Final = ("小区", "花园", "家园", "苑", "新村", "公寓")

# (domain, weight). Only reserved names: example.com/.net/.org (RFC 2606) and the
# .example / .invalid TLDs, dressed up like the large Chinese mail providers.
EMAIL_DOMAINS: Final[tuple[tuple[str, float], ...]] = (
    ("example.com", 18.0),
    ("example.net", 9.0),
    ("example.org", 7.0),
    ("163.example", 22.0),
    ("126.example", 10.0),
    ("sina.example", 7.0),
    ("foxmail.example", 6.0),
    ("sohu.example", 4.0),
    ("yeah.invalid", 3.0),
    ("mail.invalid", 3.0),
)
QQ_DOMAIN: Final = "qq.example"
RESERVED_EMAIL_SUFFIXES: Final = (
    "@example.com",
    "@example.net",
    "@example.org",
    ".example",
    ".invalid",
)

# Note openings by topic: complaint, request, inquiry, praise.
NOTE_OPENINGS: Final[dict[str, tuple[str, ...]]] = {
    "complaint": ("客户来电投诉：", "客户投诉，", "售后工单：", "客户来电反映", "客户留言称"),
    "request": (
        "客户来电要求",
        "客户留言要求",
        "客户通过微信联系，要求",
        "售后工单：客户要求",
        "客户致电客服，希望",
    ),
    "inquiry": ("客户在线咨询，", "客户来电", "客户通过微信咨询，", "客户留言"),
    "praise": ("回访时客户表示", "客户留言称", "客户来电表示"),
}

# (topic, body); "{p}" is replaced by a product name.
NOTE_BODIES: Final[tuple[tuple[str, str], ...]] = (
    ("complaint", "收到的{p}包装破损，漏液严重"),
    ("complaint", "{p}迟迟未发货，希望尽快安排"),
    ("complaint", "使用{p}后皮肤有些发痒，要求说明成分"),
    ("complaint", "{p}少发了一瓶，请补发"),
    ("complaint", "快递员态度不好，未经同意放在快递柜"),
    ("complaint", "{p}味道太刺鼻，要求换购无香型"),
    ("complaint", "订单重复扣款，要求退回多付金额"),
    ("request", "周末送货上门，工作日家中无人"),
    ("request", "将收货地址改到单位"),
    ("request", "开具增值税普通发票"),
    ("request", "申请七天无理由退货，{p}未拆封"),
    ("request", "以后送货前先电话联系"),
    ("inquiry", "询问{p}是否适合有婴儿的家庭使用"),
    ("inquiry", "咨询积分兑换规则"),
    ("inquiry", "想批量采购{p}用于公司保洁，询问团购价"),
    ("inquiry", "询问{p}什么时候有促销活动"),
    ("praise", "对{p}的清洁效果很满意，想了解会员折扣"),
    ("praise", "{p}很好用，会推荐给邻居"),
)

# Phrases around an embedded phone number / ID number / e-mail: (before, after).
NOTE_PHONE: Final = (
    ("，联系电话", ""),
    ("，请回电", ""),
    ("，客户留了新号码", "，已更新"),
    ("，送货前请拨打", ""),
    ("，备用电话：", ""),
)
NOTE_ID: Final = (
    ("，客户提供身份证号", "用于核实身份"),
    ("，开票信息：身份证", ""),
    ("，实名核验身份证号：", ""),
)
NOTE_EMAIL: Final = (
    ("，发票请发送至邮箱", ""),
    ("，客户要求把电子发票发到", ""),
    ("，退款凭证请邮件至", ""),
)
NOTE_CLOSINGS: Final = (
    "。",
    "。已处理。",
    "。已转售后跟进。",
    "。待回访。",
    "。已登记，三日内答复。",
)
