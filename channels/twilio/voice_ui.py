"""How calls look on the agent's ticket page, registered through the workspace's seam
(``agent_ui.panels``) by the composition root: the timeline renders a voice message as a
call card (direction, numbers, what happened, duration, an owed call-back), a voicemail
with a player for its recording and the transcript, and a "Phone" panel on voice tickets
lists owed call-backs next to the call-back button.

Everything is escaped here (``markupsafe``); UI strings go through the viewer's gettext
(catalog domain ``voice``). The recording plays from the staff attachment route, which
checks that the viewer may see the ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession

from channels.twilio import voice_store as store
from channels.twilio.voice_models import VoiceCall
from tickets import Channel, Desk, StaffUser, parse_number, staff_names


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


PANEL_TITLE = N_("Phone")
STATES = {
    "ivr": N_("In the phone menu"),
    "queued": N_("Waiting in the queue"),
    "leaving": N_("Waiting in the queue"),
    "bridging": N_("Connecting to an agent"),
    "bridged": N_("Talking to an agent"),
    "voicemail": N_("Went to voicemail"),
    "abandoned": N_("Hung up while waiting"),
    "dialing": N_("Calling"),
    "ended": N_("Ended"),
}
OUTCOMES = {
    "completed": N_("Completed"),
    "busy": N_("Busy"),
    "no-answer": N_("No answer"),
    "failed": N_("Failed"),
    "canceled": N_("Canceled"),
}


class PageContext(Protocol):
    """The shape of ``agent_ui.panels.PanelContext`` (this room may not import it)."""

    @property
    def ticket(self) -> Mapping[str, Any]: ...
    @property
    def staff(self) -> StaffUser: ...
    @property
    def gettext(self) -> Callable[[str], str]: ...


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(max(0, seconds), 60)
    return f"{minutes}:{rest:02d}"


def callback_placed(gettext: Callable[[str], str], to: str) -> Markup:
    """The answer to the call-back button: the agent's phone rings first."""
    _ = gettext
    return Markup('<span class="voice-callback-placed">{}</span>').format(
        _("Your phone rings now; then we call the customer at {number}.").format(number=to)
    )


def callback_failed(gettext: Callable[[str], str]) -> str:
    return gettext("The call could not be placed.")


class VoiceUi:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def timeline(self, message: Mapping[str, Any], ctx: PageContext) -> str | None:
        message_id = message.get("id")
        if not isinstance(message_id, int):
            return None

        async def read(session: AsyncSession) -> tuple[VoiceCall | None, str | None]:
            call = await store.call_of_message(session, message_id)
            if call is None or call.agent_id is None:
                return call, None
            return call, (await staff_names(session, [call.agent_id])).get(call.agent_id)

        call, agent = await self.desk.read(read)
        if call is None:
            return None
        _ = ctx.gettext
        if call.recording_message_id == message_id:
            return str(self._voicemail(call, message, _))
        if call.transcript_message_id == message_id:
            return str(
                Markup(
                    '<div class="voice-transcript-msg"><p><strong>{}</strong></p>'
                    '<blockquote class="voice-transcript">{}</blockquote></div>'
                ).format(_("Voicemail transcript"), call.transcript or message.get("text", ""))
            )
        return str(self._call(call, message, _, agent))

    def _call(
        self,
        call: VoiceCall,
        message: Mapping[str, Any],
        _: Callable[[str], str],
        agent: str | None,
    ) -> Markup:
        title = _("Incoming call") if call.direction == "in" else _("Call-back")
        facts = [
            Markup('<span class="voice-numbers">{} → {}</span>').format(call.caller, call.callee),
            Markup('<span class="voice-state">{}</span>').format(
                _(STATES.get(call.state, call.state))
            ),
        ]
        if agent and (call.bridged_at is not None or call.direction == "out"):
            facts.append(Markup('<span class="voice-agent">{} {}</span>').format(_("Agent"), agent))
        if call.outcome:
            facts.append(
                Markup('<span class="voice-outcome badge">{}</span>').format(
                    _(OUTCOMES.get(call.outcome, call.outcome))
                )
            )
        if call.duration_s is not None:
            facts.append(
                Markup('<span class="voice-duration">{} {}</span>').format(
                    _("Duration"), _duration(call.duration_s)
                )
            )
        owed = Markup("")
        if call.callback_due and call.callback_done_at is None:
            owed = Markup('<p class="voice-callback-due badge bad">{}</p>').format(
                _("Call-back owed")
            )
        elif call.callback_due:
            owed = Markup('<p class="voice-callback-done badge ok">{}</p>').format(_("Called back"))
        return Markup(
            '<div class="voice-call voice-{}" data-call="{}"><p class="voice-summary">'
            "<strong>{}</strong> {}</p>"
            '<div class="msg-text">{}</div>{}</div>'
        ).format(
            call.direction,
            call.call_sid,
            title,
            Markup(" · ").join(facts),
            message.get("text", ""),
            owed,
        )

    def _voicemail(
        self, call: VoiceCall, message: Mapping[str, Any], _: Callable[[str], str]
    ) -> Markup:
        players = Markup("").join(
            Markup(
                '<audio class="voice-recording" controls preload="none" '
                'src="/api/v1/attachments/{}">'
                '<a href="/api/v1/attachments/{}" download>{}</a></audio>'
            ).format(a["id"], a["id"], a.get("name") or _("Recording"))
            for a in message.get("attachments", [])
            if str(a.get("content_type", "")).startswith("audio/")
        )
        transcript = (
            Markup('<blockquote class="voice-transcript">{}</blockquote>').format(call.transcript)
            if call.transcript
            else Markup('<p class="muted voice-transcript-pending">{}</p>').format(
                _("The transcript is not here yet.")
            )
        )
        return Markup(
            '<div class="voice-voicemail"><p><strong>{}</strong> · {}</p>{}{}</div>'
        ).format(
            _("Voicemail"),
            _duration(call.recording_duration_s),
            players or escape(message.get("text", "")),
            transcript,
        )

    async def panel(self, ctx: PageContext) -> str | None:
        """On voice tickets: owed call-backs and the call-back button."""
        if ctx.ticket.get("channel") != Channel.VOICE.value:
            return None
        number = str(ctx.ticket.get("number", ""))
        ticket_id = parse_number(number)
        if ticket_id is None:
            return None

        async def read(session: AsyncSession) -> list[VoiceCall]:
            return await store.calls_of_ticket(session, ticket_id)

        calls = await self.desk.read(read)
        _ = ctx.gettext
        owed = [c for c in calls if c.callback_due and c.callback_done_at is None]
        items = Markup("").join(
            Markup('<li class="voice-owed">{} {} <time datetime="{}">{}</time></li>').format(
                _("Call-back owed for the call from"),
                c.caller,
                c.created_at.isoformat(),
                c.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            )
            for c in owed
        )
        listing = (
            Markup('<ul class="voice-owed-list">{}</ul>').format(items)
            if owed
            else Markup('<p class="muted">{}</p>').format(_("No call-back owed."))
        )
        return str(
            Markup(
                '<div class="voice-panel">{}'
                '<button type="button" class="voice-callback" '
                'hx-post="/agent/tickets/{}/voice/call-back" hx-target="#voice-callback-result" '
                'hx-swap="innerHTML" data-errors="#voice-callback-result">{}</button>'
                '<p id="voice-callback-result" role="status"></p></div>'
            ).format(listing, number, _("Call back"))
        )
