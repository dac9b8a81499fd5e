"""Invented values for the evaluation set: PII types the synth export lacks, and hard cases."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.cn import uscc as stdnum_uscc

from dealvault.synth.idnumbers import MOBILE_PREFIXES, luhn_check_digit, ric_check_digit
from dealvault.synth.regions import region_table

Rng = np.random.Generator
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
AREA_CODES = [
    "010",
    "020",
    "021",
    "022",
    "023",
    "024",
    "025",
    "027",
    "028",
    "029",
    "0311",
    "0351",
    "0371",
    "0431",
    "0451",
    "0512",
    "0531",
    "0551",
    "0571",
    "0591",
    "0731",
    "0755",
    "0757",
    "0769",
    "0791",
    "0851",
    "0871",
    "0898",
    "0931",
    "0991",
]
COMMON_WORDS = [
    "王者",
    "高兴",
    "黄金",
    "白金",
    "金牌",
    "马上",
    "方便",
    "高级",
    "江湖",
    "安全",
    "常规",
    "文化",
    "时尚",
    "温馨",
    "包邮",
    "高端",
    "白色",
    "金色",
    "安心",
    "万能",
    "和平",
    "红包",
    "宁静",
    "全新",
    "康复",
    "柳丁",
    "龙井",
    "梅花",
    "桂花",
    "石榴",
]


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled column: values, header variants to try, and the true type."""

    key: str
    values: Sequence[str | None] | Sequence[int]
    pii_type: str | None
    headers: tuple[str | None, ...]
    note: str = ""


def digits(rng: Rng, n: int, k: int) -> list[str]:
    return ["".join(map(str, rng.integers(0, 10, k))) for _ in range(n)]


def letters(rng: Rng, alphabet: str, k: int) -> str:
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), k))


def ric(rng: Rng, n: int, *, broken: float = 0.0, lower_x: bool = False) -> list[str]:
    regions = region_table()
    out = []
    for _ in range(n):
        year = int(rng.integers(1960, 2005))
        code = int(regions.codes[regions.sample_for_years(rng, np.array([year]))[0]])
        body = f"{code}{year}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
        body += f"{int(rng.integers(0, 1000)):03d}"
        check = ric_check_digit(body)
        if rng.random() < broken:
            check = "0123456789X"[("0123456789X".index(check) + 1) % 11]
        value = body + check
        out.append(value.lower() if lower_x else value)
    return out


def ric15(rng: Rng, n: int) -> list[str]:
    regions = region_table()
    out = []
    for _ in range(n):
        yy, mm, dd = int(rng.integers(40, 85)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        code = int(regions.codes[regions.sample_for_years(rng, np.array([1900 + yy]))[0]])
        out.append(f"{code}{yy:02d}{mm:02d}{dd:02d}{int(rng.integers(0, 1000)):03d}")
    return out


def mobiles(rng: Rng, n: int) -> list[str]:
    prefixes = np.array(MOBILE_PREFIXES)
    return [f"{int(rng.choice(prefixes))}{int(rng.integers(0, 10**8)):08d}" for _ in range(n)]


def mobile_formats(rng: Rng, n: int) -> list[str]:
    out = []
    for i, m in enumerate(mobiles(rng, n)):
        a, b, c = m[:3], m[3:7], m[7:]
        out.append([f"+86 {a} {b} {c}", f"0086-{m}", f"{a}-{b}-{c}", f"86{m}", m][i % 5])
    return out


def landlines(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        area = AREA_CODES[int(rng.integers(0, len(AREA_CODES)))]
        k = 8 if len(area) == 3 else int(rng.choice([7, 8]))
        sub = str(int(rng.integers(2, 9))) + "".join(digits(rng, 1, k - 1))
        out.append([f"{area}-{sub}", f"({area}){sub}", f"{area} {sub}", f"{area}{sub}"][i % 4])
    return out


def intl_phones(rng: Rng, n: int) -> list[str]:
    regions = ("US", "GB", "DE", "FR", "JP", "SG", "AU", "HK", "CA", "KR")
    out: list[str] = []
    while len(out) < n:
        region = regions[int(rng.integers(0, len(regions)))]
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        assert example is not None
        national = str(example.national_number)
        tail = "".join(digits(rng, 1, 4))
        candidate = phonenumbers.parse(f"+{example.country_code}{national[:-4]}{tail}", None)
        if not phonenumbers.is_valid_number(candidate):
            continue
        fmt = (
            phonenumbers.PhoneNumberFormat.E164
            if len(out) % 2
            else (phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        )
        out.append(phonenumbers.format_number(candidate, fmt))
    return out


def with_luhn(body: str) -> str:
    return body + luhn_check_digit(body)


def credit_cards(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(with_luhn("4" + digits(rng, 1, 14)[0]))
        elif kind == 1:
            out.append(with_luhn(str(int(rng.integers(51, 56))) + digits(rng, 1, 13)[0]))
        elif kind == 2:
            out.append(with_luhn(str(int(rng.choice([34, 37]))) + digits(rng, 1, 12)[0]))
        else:
            out.append(with_luhn(str(int(rng.integers(3528, 3590))) + digits(rng, 1, 11)[0]))
    return out


def unionpay_cards(rng: Rng, n: int, *, grouped: bool = False) -> list[str]:
    bins = ("622202", "621226", "622848", "621700", "621661", "622588", "625807")
    out = []
    for _ in range(n):
        b = bins[int(rng.integers(0, len(bins)))]
        length = 16 if b in ("622588", "625807") else 19
        card = with_luhn(b + digits(rng, 1, length - 7)[0])
        out.append(" ".join(card[i : i + 4] for i in range(0, len(card), 4)) if grouped else card)
    return out


def usccs(rng: Rng, n: int) -> list[str]:
    regions = region_table()
    out = []
    for _ in range(n):
        code = int(regions.codes[regions.sample(rng, 1)[0]])
        body = f"{int(rng.choice([91, 92, 93, 12, 52]))}{code}" + letters(rng, USCC_CHARS, 9)
        out.append(body + stdnum_uscc.calc_check_digit(body + "0"))
    return out


def ibans(rng: Rng, n: int) -> list[str]:
    layouts = {"DE": ("n", 18), "GB": ("a4n14", 18), "NL": ("a4n10", 14), "FR": ("n", 23)}
    out = []
    for i in range(n):
        country = list(layouts)[i % len(layouts)]
        spec, length = layouts[country]
        if spec == "n":
            bban = digits(rng, 1, length)[0]
        else:
            nl = int(spec.split("n")[1])
            bban = letters(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4) + digits(rng, 1, nl)[0]
        check = stdnum_iban.calc_check_digits(country + "00" + bban)
        value = country + check + bban
        out.append(" ".join(value[j : j + 4] for j in range(0, len(value), 4)) if i % 2 else value)
    return out


def passports(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append("E" + digits(rng, 1, 8)[0])
        elif i % 3 == 1:
            out.append("E" + letters(rng, PLATE_LETTERS, 1) + digits(rng, 1, 7)[0])
        else:
            out.append("G" + digits(rng, 1, 8)[0])
    return out


def hk_permits(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        if i % 2:
            out.append(str(rng.choice(["H", "M"])) + digits(rng, 1, 8)[0])
        else:
            out.append("C" + letters(rng, PLATE_LETTERS + "0123456789", 1) + digits(rng, 1, 7)[0])
    return out


def plates(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        head = PROVINCES[int(rng.integers(0, len(PROVINCES)))] + letters(rng, PLATE_LETTERS, 1)
        kind = i % 4
        if kind == 0:
            tail = (
                str(rng.choice(["D", "F"])) + letters(rng, PLATE_LETTERS, 1) + digits(rng, 1, 4)[0]
            )
        elif kind == 1:
            tail = digits(rng, 1, 5)[0] + str(rng.choice(["D", "F"]))
        else:
            tail = letters(rng, PLATE_LETTERS, 1) + digits(rng, 1, 4)[0]
            tail = tail if kind == 2 else digits(rng, 1, 3)[0] + letters(rng, PLATE_LETTERS, 2)
        out.append(head + tail)
    return out


def ipv4s(rng: Rng, n: int) -> list[str]:
    return [str(ipaddress.IPv4Address(int(x))) for x in rng.integers(16_777_216, 2**32 - 1, n)]


def ipv6s(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        groups = rng.integers(0, 65536, 8)
        if i % 2:
            groups[3:6] = 0
        addr = ipaddress.IPv6Address(int("".join(f"{g:04x}" for g in groups), 16))
        out.append(addr.compressed if i % 3 else addr.exploded)
    return out


Generator = Callable[[Rng, int], list[str]]
