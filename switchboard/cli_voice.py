"""``switchboard voice``: where agents take phone calls.

- ``switchboard voice agent-phone EMAIL +8613912345678`` makes bridged calls and
  call-backs ring that agent's phone number;
- ``switchboard voice agent-phone EMAIL --clear`` goes back to their Twilio Client
  identity ``agent_<user id>`` (a softphone registered with that identity);
- ``switchboard voice agent-phone EMAIL`` shows where their calls ring now.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channels.twilio import voice_store
from switchboard import db
from switchboard.settings import Settings
from tickets import InvalidAddress, normalize_phone, user_id_by_email

Common = Callable[[argparse.ArgumentParser], None]


class VoiceCliError(Exception):
    pass


def add_parser(sub: Any, common: Common) -> None:
    p = sub.add_parser("voice", help="Twilio voice: where agents take calls")
    vsub = p.add_subparsers(dest="voice_command", required=True, metavar="SUBCOMMAND")
    q = vsub.add_parser(
        "agent-phone", help="show or set the phone number an agent's calls ring (E.164)"
    )
    q.add_argument("email")
    q.add_argument("phone", nargs="?", help="e.g. +8613912345678; omit to show")
    q.add_argument("--clear", action="store_true", help="ring their Twilio Client instead")
    common(q)
    q.set_defaults(run=cmd_agent_phone)


async def agent_phone(session: AsyncSession, email: str, phone: str | None, clear: bool) -> str:
    user_id = await user_id_by_email(session, email)
    if user_id is None:
        raise VoiceCliError(f"no user {email.strip().lower()}")
    if clear:
        await voice_store.set_agent_phone(session, user_id, None)
    elif phone:
        try:
            await voice_store.set_agent_phone(session, user_id, normalize_phone(phone))
        except InvalidAddress as err:
            raise VoiceCliError(str(err)) from err
    found = await voice_store.agent_phone(session, user_id)
    where = found or f"Twilio Client identity agent_{user_id}"
    return f"calls for {email.strip().lower()} ring {where}"


async def cmd_agent_phone(args: argparse.Namespace) -> None:
    overrides = {"database_url": args.database_url} if args.database_url else {}
    settings = Settings.load(**overrides)
    engine = db.create_engine(settings.database_url)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            print(await agent_phone(session, args.email, args.phone, args.clear))
    finally:
        await engine.dispose()
