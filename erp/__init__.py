"""The ERP port and its adapters (builtin, ERPNext, Odoo): part availability and orders."""
