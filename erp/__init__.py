"""The ERP port and its adapters (builtin, ERPNext, Odoo) for part availability and orders (later issues)."""
