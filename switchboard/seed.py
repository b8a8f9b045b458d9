"""The demo company: queues Repairs and Orders, three agents with different skills and
languages, a supervisor and an admin, all with password ``demo``. Idempotent: a second
run finds the users and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import tickets
from routing.models import AgentProfile, QueueRouting
from tickets import Role
from tickets.models import BusinessCalendar, SlaPolicy, User

DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    languages: tuple[str, ...]
    queues: tuple[str, ...]
    skills: tuple[tuple[str, int], ...] = ()


DEMO_QUEUES = {
    "Repairs": "Appliance faults, installation and on-site repair (维修)",
    "Orders": "Order status, delivery, spare parts and refunds (订单)",
}

DEMO_USERS = (
    DemoUser(
        "agent1@example.com",
        "王芳 Wang Fang",
        Role.AGENT,
        ("zh",),
        ("Repairs",),
        (("air_conditioning", 5), ("refrigerator", 3)),
    ),
    DemoUser(
        "agent2@example.com",
        "Li Lei",
        Role.AGENT,
        ("zh", "en"),
        ("Repairs", "Orders"),
        (("washing_machine", 4), ("orders", 3)),
    ),
    DemoUser(
        "agent3@example.com",
        "Emma Brown",
        Role.AGENT,
        ("en",),
        ("Orders",),
        (("orders", 5), ("refunds", 4)),
    ),
    DemoUser(
        "supervisor@example.com",
        "Zhang Wei (Supervisor)",
        Role.SUPERVISOR,
        ("zh", "en"),
        ("Repairs", "Orders"),
    ),
    DemoUser("admin@example.com", "Admin", Role.ADMIN, ("en",), ()),
)


async def seed_demo(session: AsyncSession, now: datetime) -> bool:
    """Returns True when it created the demo data, False when it was already there."""
    existing = set((await session.execute(select(User.email))).scalars())
    if all(u.email in existing for u in DEMO_USERS):
        return False
    queue_ids = {
        name: await tickets.ensure_queue(session, name, desc, now=now)
        for name, desc in DEMO_QUEUES.items()
    }
    members: dict[str, list[int]] = {name: [] for name in DEMO_QUEUES}
    for user in DEMO_USERS:
        if user.email in existing:
            user_id = await tickets.user_id_by_email(session, user.email)
        else:
            user_id = await tickets.create_user(
                session,
                user.email,
                user.role,
                now,
                name=user.name,
                password=DEMO_PASSWORD,
                languages=list(user.languages),
            )
        for queue in user.queues:
            members[queue].append(user_id)
    for name, user_ids in members.items():
        await tickets.set_queue_members(session, queue_ids[name], user_ids, now=now)
    for user in DEMO_USERS:
        if user.role is Role.AGENT:
            user_id = await tickets.user_id_by_email(session, user.email)
            session.add(
                AgentProfile(
                    user_id=user_id, skills=dict(user.skills), capacity={}, presence="offline"
                )
            )
    session.add(
        QueueRouting(
            queue_id=queue_ids["Orders"],
            position=10,
            keywords=list(ORDER_KEYWORDS),
            offer_timeout_s=45,
        )
    )
    session.add(
        QueueRouting(
            queue_id=queue_ids["Repairs"],
            position=20,
            is_default=True,
            offer_timeout_s=45,
            overflow_queue_id=queue_ids["Orders"],
            overflow_after_s=600,
        )
    )
    calendar = BusinessCalendar(
        name="China (Shanghai)",
        timezone="Asia/Shanghai",
        weekly_hours={
            d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
        },
        holiday_country="CN",
        extra_working_days=[],
        days_off=[],
    )
    session.add(calendar)
    await session.flush()
    for position, (name, priority, first, nxt, resolve) in enumerate(DEMO_SLAS):
        session.add(
            SlaPolicy(
                name=name,
                position=position * 10,
                match_priority=priority,
                first_response_min=first,
                next_response_min=nxt,
                resolution_min=resolve,
                calendar_id=calendar.id,
            )
        )
    return True


ORDER_KEYWORDS = (
    "订单",
    "物流",
    "发货",
    "快递",
    "退款",
    "发票",
    "到货",
    "SO-",
    "order",
    "delivery",
    "refund",
    "invoice",
)

# name, priority (None: any), first response, next response, resolution (business minutes)
DEMO_SLAS = (
    ("Urgent", "urgent", 30, 60, 8 * 60),
    ("High", "high", 60, 120, 2 * 9 * 60),
    ("Standard", None, 4 * 60, 8 * 60, 5 * 9 * 60),
)
