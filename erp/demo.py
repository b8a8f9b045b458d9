"""The demo appliance catalogue the builtin adapter answers from after ``switchboard
demo``: air conditioners, washing machines, refrigerators and water heaters with their
spare parts in Chinese and English, three warehouses, orders in every state and serial
numbers in and out of warranty. The README's examples use these records (``SO-2291``,
``SO-2292``, ``CP-KFR35-01``, ``SN-AC-2026-0042``, ``SN-WM-2023-0001``).

Dates that must stay in the future (an incoming delivery, a promised date) are set
relative to the day of seeding; warranty dates are fixed so the examples read the same."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from erp.importer import load_records
from erp.models import ErpPart

WAREHOUSES = [
    {"code": "Shanghai", "name_zh": "上海仓", "name_en": "Shanghai warehouse"},
    {"code": "Guangzhou", "name_zh": "广州仓", "name_en": "Guangzhou warehouse"},
    {"code": "Chengdu", "name_zh": "成都仓", "name_en": "Chengdu warehouse"},
]

AC_35 = "KFR-35GW/BpTYC1;KFR-35GW/BpFXC1;KFR-35GW/BpXA1"
AC_50 = "KFR-50LW/BpTYC1;KFR-50LW/BpXA1"
WM_80 = "XQG80-BD14126;XQG80-B14126L"
RF_470 = "BCD-470WDPG;BCD-470WDPF"
WH_60 = "ES60H-J5;ES60H-J3"

# part_number, name_zh, name_en, models, lead time, price (CNY)
PARTS = [
    ("CP-KFR35-01", "变频压缩机", "Inverter compressor", AC_35, 7, "860.00"),
    ("CB-KFR35-02", "室内主控板", "Indoor main control board", AC_35, 5, "285.00"),
    ("FM-KFR35-03", "室外风机电机", "Outdoor fan motor", AC_35, 5, "168.00"),
    ("CP-KFR50-01", "变频压缩机", "Inverter compressor", AC_50, 10, "1180.00"),
    ("EV-KFR50-02", "电子膨胀阀", "Electronic expansion valve", AC_50, 4, "96.00"),
    ("DS-XQG80-01", "门封圈", "Door seal", WM_80, 3, "78.00"),
    ("DP-XQG80-02", "排水泵", "Drain pump", WM_80, 6, "65.00"),
    ("CB-XQG80-03", "电脑控制板", "Control board", WM_80, 8, "320.00"),
    ("TH-BCD470-01", "温控器", "Thermostat", RF_470, 4, "58.00"),
    ("FM-BCD470-02", "冷凝风机", "Condenser fan motor", RF_470, 5, "112.00"),
    ("DS-BCD470-03", "冷藏门封条", "Fridge door gasket", RF_470, 3, "89.00"),
    ("HE-ES60H-01", "加热管", "Heating element", WH_60, 4, "135.00"),
    ("AN-ES60H-02", "镁棒", "Magnesium anode rod", WH_60, 2, "28.00"),
]

# part_number: {warehouse: (on_hand, reserved, incoming, days until it arrives)}
STOCK = {
    "CP-KFR35-01": {"Shanghai": (0, 0, 20, 6), "Guangzhou": (14, 2, 0, 0), "Chengdu": (3, 0, 0, 0)},
    "CB-KFR35-02": {"Shanghai": (25, 3, 0, 0), "Guangzhou": (9, 0, 0, 0), "Chengdu": (0, 0, 10, 4)},
    "FM-KFR35-03": {"Shanghai": (7, 0, 0, 0), "Guangzhou": (12, 1, 0, 0), "Chengdu": (4, 0, 0, 0)},
    "CP-KFR50-01": {"Shanghai": (2, 2, 6, 12), "Guangzhou": (5, 0, 0, 0), "Chengdu": (0, 0, 0, 0)},
    "EV-KFR50-02": {"Shanghai": (30, 0, 0, 0), "Guangzhou": (18, 0, 0, 0), "Chengdu": (6, 0, 0, 0)},
    "DS-XQG80-01": {
        "Shanghai": (40, 4, 0, 0),
        "Guangzhou": (22, 0, 0, 0),
        "Chengdu": (11, 0, 0, 0),
    },
    "DP-XQG80-02": {"Shanghai": (0, 0, 50, 9), "Guangzhou": (0, 0, 30, 9), "Chengdu": (0, 0, 0, 0)},
    "CB-XQG80-03": {"Shanghai": (6, 1, 0, 0), "Guangzhou": (3, 0, 0, 0), "Chengdu": (2, 0, 0, 0)},
    "TH-BCD470-01": {"Shanghai": (15, 0, 0, 0), "Guangzhou": (8, 0, 0, 0), "Chengdu": (5, 0, 0, 0)},
    "FM-BCD470-02": {"Shanghai": (0, 0, 12, 5), "Guangzhou": (6, 0, 0, 0), "Chengdu": (1, 0, 0, 0)},
    "DS-BCD470-03": {
        "Shanghai": (20, 0, 0, 0),
        "Guangzhou": (10, 0, 0, 0),
        "Chengdu": (7, 0, 0, 0),
    },
    "HE-ES60H-01": {"Shanghai": (9, 0, 0, 0), "Guangzhou": (0, 0, 15, 7), "Chengdu": (4, 0, 0, 0)},
    "AN-ES60H-02": {
        "Shanghai": (60, 0, 0, 0),
        "Guangzhou": (45, 0, 0, 0),
        "Chengdu": (20, 0, 0, 0),
    },
}

# reference, state, customer, promised in days (negative: in the past)
ORDERS = [
    ("SO-2291", "shipped", "张伟 Zhang Wei", 2),
    ("SO-2292", "delivered", "李娜 Li Na", -3),
    ("SO-2293", "ordered", "王强 Wang Qiang", 8),
    ("SO-2294", "partially_shipped", "Emily Chen", 4),
    ("SO-2295", "cancelled", "刘洋 Liu Yang", -10),
]
ORDER_LINES = [
    ("SO-2291", "CP-KFR35-01", "变频压缩机 Inverter compressor", 1, 0),
    ("SO-2291", "CB-KFR35-02", "室内主控板 Indoor main control board", 1, 0),
    ("SO-2292", "DS-XQG80-01", "门封圈 Door seal", 2, 2),
    ("SO-2293", "FM-BCD470-02", "冷凝风机 Condenser fan motor", 1, 0),
    ("SO-2294", "HE-ES60H-01", "加热管 Heating element", 2, 1),
    ("SO-2294", "AN-ES60H-02", "镁棒 Magnesium anode rod", 2, 2),
    ("SO-2295", "DP-XQG80-02", "排水泵 Drain pump", 1, 0),
]
SHIPMENTS = [
    ("SO-2291", "顺丰速运 SF Express", "SF1402388625331", 1),
    ("SO-2292", "京东物流 JD Logistics", "JDVA20871365512", 6),
    ("SO-2294", "中通快递 ZTO Express", "78431066920145", 2),
]
TRACKING_URLS = {
    "SF": "https://www.sf-express.com/chn/sc/waybill/waybill-detail/{}",
    "JD": "https://www.jdl.com/orderSearch/?waybillCodes={}",
    "78": "https://www.zto.com/?num={}",
}

SERIALS = [
    ("SN-AC-2026-0042", "KFR-35GW/BpTYC1", "张伟 Zhang Wei", "2026-03-15", "2029-03-14", ""),
    ("SN-AC-2021-0318", "KFR-50LW/BpXA1", "赵敏 Zhao Min", "2021-06-02", "2024-06-01", ""),
    ("SN-WM-2023-0001", "XQG80-BD14126", "李娜 Li Na", "2023-05-20", "2025-05-19", ""),
    ("SN-WM-2025-0107", "XQG80-B14126L", "Emily Chen", "2025-09-01", "2027-08-31", ""),
    ("SN-RF-2024-0107", "BCD-470WDPG", "王强 Wang Qiang", "2024-08-01", "2026-07-31", "2027-07-31"),
    ("SN-WH-2022-0315", "ES60H-J5", "刘洋 Liu Yang", "2022-02-10", "2025-02-09", ""),
]


async def seed_erp_demo(session: AsyncSession, today: date) -> bool:
    """Loads the catalogue once; False when it is already there."""
    exists = (
        await session.execute(select(ErpPart.id).where(ErpPart.part_number == "CP-KFR35-01"))
    ).first()
    if exists is not None:
        return False

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    await load_records(session, "warehouses", WAREHOUSES)
    await load_records(
        session,
        "parts",
        [
            {
                "part_number": number,
                "name_zh": zh,
                "name_en": en,
                "models": models,
                "lead_time_days": str(lead),
                "price": price,
                "currency": "CNY",
            }
            for number, zh, en, models, lead, price in PARTS
        ],
    )
    await load_records(
        session,
        "stock",
        [
            {
                "part_number": number,
                "warehouse": warehouse,
                "on_hand": str(on_hand),
                "reserved": str(reserved),
                "incoming": str(incoming),
                "incoming_date": day(days) if incoming else "",
            }
            for number, levels in STOCK.items()
            for warehouse, (on_hand, reserved, incoming, days) in levels.items()
        ],
    )
    await load_records(
        session,
        "orders",
        [
            {"reference": ref, "state": state, "customer": customer, "promised_date": day(days)}
            for ref, state, customer, days in ORDERS
        ],
    )
    await load_records(
        session,
        "order_lines",
        [
            {
                "reference": ref,
                "part_number": number,
                "name": name,
                "ordered": str(ordered),
                "delivered": str(delivered),
            }
            for ref, number, name, ordered, delivered in ORDER_LINES
        ],
    )
    await load_records(
        session,
        "shipments",
        [
            {
                "reference": ref,
                "carrier": carrier,
                "tracking_number": tracking,
                "tracking_url": TRACKING_URLS[tracking[:2]].format(tracking),
                "shipped_at": f"{day(-ago)}T10:00:00+08:00",
            }
            for ref, carrier, tracking, ago in SHIPMENTS
        ],
    )
    await load_records(
        session,
        "serials",
        [
            {
                "serial": serial,
                "model": model,
                "customer": customer,
                "purchase_date": bought,
                "warranty_end": until,
                "contract_end": contract,
            }
            for serial, model, customer, bought, until, contract in SERIALS
        ],
    )
    return True


__all__ = ["seed_erp_demo"]
