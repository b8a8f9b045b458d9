"""The ERP panel's requests from the ticket page (``pages``)."""

from agent_ui.web.erp.pages import ROUTES

__all__ = ["ROUTES"]
