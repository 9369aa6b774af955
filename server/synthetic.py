"""Synthetic households for the shipped survey: realistic submissions for demos, tests and benchmarks.

Deterministic for a given seed, so benchmarks and fixtures are repeatable."""
from __future__ import annotations

import random
import uuid
import zlib
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FORM_ID = "household_digital_survey"
VERSION = "2026112301"
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Thanh", "Ngọc", "Đức", "Thu"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hòa", "Khánh", "Lan", "Linh", "Mai", "Nam", "Phúc",
         "Quân", "Sơn", "Tâm", "Thảo", "Trung", "Tuấn", "Vy", "Yến"]
WALLETS = ["momo", "viettel_money", "vnpt_money", "zalopay", "shopeepay", "vnpay"]
PLATFORMS = ["shopee", "lazada", "tiki", "tiktok_shop", "postmart", "voso", "facebook_zalo"]


@dataclass
class Member:
    name: str
    sex: str
    age: int
    relation: str
    answers: dict[str, str] = field(default_factory=dict)


@dataclass
class Household:
    instance_id: str
    village: str
    commune: str
    district: str
    province: str
    respondent: str
    phone: str
    members: list[Member]
    fixed_broadband: str
    runs_business: str
    photo: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _yn(rng: random.Random, p: float) -> str:
    return "yes" if rng.random() < p else "no"


# Where the shipped registry's provinces are (xlsforms/areas.csv); any other code lands near Đà Nẵng.
PROVINCE_CENTRES = {"DN": (16.03, 108.14), "DL": (12.66, 108.02), "BD": (11.02, 106.64), "QN": (20.93, 107.05)}


def _near(village_code: str, axis: int, origin: float) -> float:
    """A village's centre: its province's place, its commune's within 0.15° of it, its own within 0.02°
    of that — so a map shows households in clusters by village and commune, as people live."""
    parts = village_code.split("-")
    base = PROVINCE_CENTRES.get(parts[0], (16.0, 108.1))[axis] if parts[0] in PROVINCE_CENTRES else origin
    commune = zlib.crc32(("-".join(parts[:3]) + str(axis)).encode()) / 2**32
    own = zlib.crc32((village_code + str(axis)).encode()) / 2**32
    return base + commune * 0.15 + own * 0.02


def random_household(rng: random.Random, village_code: str, members: int | None = None, photo: bool = False) -> Household:
    parts = village_code.split("-")
    province, district, commune = parts[0], "-".join(parts[:2]), "-".join(parts[:3])
    surname = rng.choice(SURNAMES)
    n = members if members is not None else max(1, min(9, int(rng.gauss(4, 1.3))))
    people = []
    for i in range(n):
        age = rng.randint(30, 70) if i == 0 else rng.randint(0, 85)
        m = Member(f"{surname} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}", rng.choice(["male", "female"]), age,
                   "head" if i == 0 else rng.choice(["spouse", "child", "parent", "other_relative"]))
        if age >= 14:
            m.answers["vneid_level2"] = _yn(rng, 0.8)
        if age >= 15:
            wallets = rng.sample(WALLETS, rng.choice([0, 0, 1, 1, 2]))
            m.answers.update(smartphone=_yn(rng, 0.85), bank_account=_yn(rng, 0.7),
                             ewallets=" ".join(wallets) or "none", public_services_account=_yn(rng, 0.5),
                             shopped_online=_yn(rng, 0.55), digital_signature=_yn(rng, 0.15),
                             digital_guidance=_yn(rng, 0.6))
        people.append(m)
    return Household(
        instance_id=f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}", village=village_code, commune=commune,
        district=district, province=province, respondent=people[0].name, phone="09" + "".join(rng.choices("0123456789", k=8)),
        members=people, fixed_broadband=rng.choice(["fibre", "fibre", "fibre", "cable", "adsl", "none", "dont_know"]),
        runs_business=_yn(rng, 0.3), photo=f"{rng.randint(10**12, 10**13 - 1)}.jpg" if photo else None,
        extra={"enumerator_code": f"TCN{rng.randint(1, 40):02d}",
               "lat": f"{_near(village_code, 0, 16.0) + (rng.random() - 0.5) / 150:.6f}",
               "lon": f"{_near(village_code, 1, 108.1) + (rng.random() - 0.5) / 150:.6f}", "hh_ecommerce": _yn(rng, 0.5),
               "business_type": rng.choice(["retail", "food_service", "agriculture", "services"]),
               "ecommerce": " ".join(rng.sample(PLATFORMS, rng.choice([0, 1, 2]))) or "none",
               "cashless": rng.choice(["qr_code", "qr_code bank_transfer", "ewallet", "none"])})


def to_xml(h: Household, instance_name: str | None = None, deprecated_id: str | None = None,
           version: str = VERSION) -> bytes:
    """The submission XML Collect would send for this household."""
    e = escape
    x = h.extra
    member_xml = []
    for i, m in enumerate(h.members, 1):
        a = m.answers
        member_xml.append(
            f"<members><member_no>{i}</member_no><member_name>{e(m.name)}</member_name><sex>{m.sex}</sex>"
            f"<age>{m.age}</age><relation>{m.relation}</relation>"
            + "".join(f"<{k}>{e(a[k])}</{k}>" for k in ("smartphone", "vneid_level2", "bank_account", "ewallets",
                                                      "public_services_account", "shopped_online",
                                                      "digital_signature", "digital_guidance") if k in a)
            + "</members>")
    business = (f"<business><runs_business>{h.runs_business}</runs_business>"
                + (f"<business_type>{x['business_type']}</business_type><ecommerce_platforms>{x['ecommerce']}"
                   f"</ecommerce_platforms><cashless>{x['cashless']}</cashless><e_invoice>no</e_invoice><ocop>no</ocop>"
                   if h.runs_business == "yes" else "") + "</business>")
    name = instance_name or f"{h.village} – {h.respondent}"
    meta = f"<instanceID>{h.instance_id}</instanceID>" + (f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else "")
    return (
        f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
        f'id="{FORM_ID}" version="{version}">'
        f"<start>2026-11-20T08:00:00.000+07:00</start><end>2026-11-20T08:20:00.000+07:00</end>"
        f"<today>2026-11-20</today><deviceid>collect:AbCdEfGh12345678</deviceid><username>tcn</username>"
        f"<location><province>{h.province}</province><district>{h.district}</district><commune>{h.commune}</commune>"
        f"<village>{h.village}</village><village_name>{e(h.village)}</village_name><address>Số {len(h.respondent)} đường Lê Duẩn</address>"
        f"<gps>{x['lat']} {x['lon']} 12.0 5.0</gps><house_photo>{h.photo or ''}</house_photo></location>"
        f"<respondent><enumerator_code>{x['enumerator_code']}</enumerator_code><consent>yes</consent>"
        f"<respondent_name>{e(h.respondent)}</respondent_name><respondent_role>head</respondent_role>"
        f"<phone>{h.phone}</phone></respondent>"
        f"<household><fixed_broadband>{h.fixed_broadband}</fixed_broadband><mobile_data>yes</mobile_data>"
        f"<public_wifi>dont_know</public_wifi><household_size>{len(h.members)}</household_size>"
        f"<hh_ecommerce>{x['hh_ecommerce']}</hh_ecommerce><cashless_bills>yes</cashless_bills>"
        + "".join(member_xml) + "</household>" + business
        + "<closing><needs_help>none</needs_help><notes/></closing>"
        f"<meta>{meta}<instanceName>{e(name)}</instanceName></meta></data>"
    ).encode("utf-8")
