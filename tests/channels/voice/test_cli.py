"""``switchboard voice agent-phone``: where an agent's bridged calls and call-backs ring,
through the real command on each database."""

from __future__ import annotations

from tests.helpers import seed_with_tokens
from tests.switchboard.test_cli import run


async def test_agent_phone_is_set_shown_and_cleared(database_url: str) -> None:
    await seed_with_tokens(database_url)
    env = {"SWITCHBOARD_DATABASE_URL": database_url}
    code, out, err = await run(
        "voice", "agent-phone", "Agent1@example.com", "139 1234 5678", env=env
    )
    assert code == 0, err
    assert "agent1@example.com ring +8613912345678" in out
    code, out, _ = await run("voice", "agent-phone", "agent1@example.com", env=env)
    assert "ring +8613912345678" in out
    code, out, _ = await run("voice", "agent-phone", "agent1@example.com", "--clear", env=env)
    assert code == 0 and "ring Twilio Client identity agent_" in out
    code, _, err = await run("voice", "agent-phone", "agent1@example.com", "12", env=env)
    assert code == 2 and "not a possible phone number" in err
    code, _, err = await run(
        "voice", "agent-phone", "nobody@example.com", "+8613912345678", env=env
    )
    assert code == 2 and "no user nobody@example.com" in err
