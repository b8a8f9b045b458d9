"""The agent's ticket page (``/agent/tickets/{number}``): one timeline for every
channel, the composer, the ticket's controls, the customer card with merge and un-merge,
live SLA clocks and the panels other rooms register."""

from agent_ui.web.ticket.routes import ROUTES

__all__ = ["ROUTES"]
