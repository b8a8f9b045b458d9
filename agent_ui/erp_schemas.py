"""OpenAPI schemas of the ERP routes (``agent_ui.erp_api``), merged into the document's
components by ``agent_ui.openapi``."""

from __future__ import annotations

from typing import Any

STR = {"type": "string"}
NULL_STR = {"type": ["string", "null"]}
NUM = {"type": "number"}
NULL_NUM = {"type": ["number", "null"]}
NULL_INT = {"type": ["integer", "null"]}
BOOL = {"type": "boolean"}

PROVENANCE: dict[str, Any] = {
    "source": {**STR, "description": "the adapter that answered (builtin, erpnext, odoo...)"},
    "fetched_at": {**STR, "format": "date-time"},
    "stale": {**BOOL, "description": "a cached answer shown while the ERP is unavailable"},
    "unavailable_since": NULL_STR,
}


def _answer(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [*required, "source", "fetched_at"],
        "properties": {**properties, **PROVENANCE},
    }


ERP_SCHEMAS: dict[str, Any] = {
    "ErpStatus": {
        "type": "object",
        "required": ["source", "breaker", "available"],
        "properties": {
            "source": STR,
            "breaker": {"enum": ["closed", "opened", "half-opened"]},
            "available": BOOL,
            "unavailable_since": NULL_STR,
            "last_good_at": NULL_STR,
        },
    },
    "ErpPart": _answer(
        ["part_number", "names", "models", "stock"],
        {
            "part_number": STR,
            "names": {"type": "object", "properties": {"zh": STR, "en": STR}},
            "models": {"type": "array", "items": STR},
            "stock": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["warehouse", "on_hand", "reserved", "available", "projected"],
                    "properties": {
                        "warehouse": STR,
                        "on_hand": NUM,
                        "reserved": NUM,
                        "available": NUM,
                        "projected": NUM,
                        "incoming_date": NULL_STR,
                    },
                },
            },
            "available": NUM,
            "lead_time_days": NULL_INT,
            "price": NULL_NUM,
            "currency": NULL_STR,
        },
    ),
    "ErpOrder": _answer(
        ["reference", "state", "lines", "shipments"],
        {
            "reference": STR,
            "state": {
                "enum": ["ordered", "partially_shipped", "shipped", "delivered", "cancelled"]
            },
            "customer": NULL_STR,
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "part_number": STR,
                        "name": STR,
                        "ordered": NUM,
                        "delivered": NUM,
                    },
                },
            },
            "shipments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "carrier": NULL_STR,
                        "tracking_number": NULL_STR,
                        "tracking_url": NULL_STR,
                        "shipped_at": NULL_STR,
                    },
                },
            },
            "promised_date": NULL_STR,
        },
    ),
    "ErpWarranty": _answer(
        ["serial", "model", "under_warranty"],
        {
            "serial": STR,
            "model": STR,
            "customer": NULL_STR,
            "purchase_date": NULL_STR,
            "warranty_end": NULL_STR,
            "contract_end": NULL_STR,
            "under_warranty": BOOL,
            "on": {**STR, "description": "the day under_warranty was judged for"},
        },
    ),
    "ErpSection": {
        "type": "object",
        "description": "what the ERP said about the orders, serials, parts and models in the "
        "ticket's messages (as found; GET /api/v1/erp/tickets/{number} asks again)",
        "properties": {
            "source": STR,
            "available": BOOL,
            "items": {"type": "array", "items": {"type": "object"}},
            "reservation": {"type": ["object", "null"]},
        },
    },
    "ErpFindings": {
        "type": "object",
        "required": ["ticket", "source", "available", "items"],
        "properties": {
            "ticket": STR,
            "source": STR,
            "available": BOOL,
            "unavailable_since": NULL_STR,
            "last_good_at": NULL_STR,
            "updated_at": NULL_STR,
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kind", "ref", "status"],
                    "properties": {
                        "kind": {"enum": ["order", "serial", "part", "model"]},
                        "ref": STR,
                        "status": {"enum": ["ok", "stale", "unavailable", "not_found", "rejected"]},
                        "data": {"type": ["object", "null"]},
                    },
                },
            },
        },
    },
    "ErpReservationRequest": {
        "type": "object",
        "required": ["lines"],
        "additionalProperties": False,
        "properties": {
            "lines": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "required": ["part_number"],
                    "additionalProperties": False,
                    "properties": {
                        "part_number": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 80,
                            "pattern": "\\S",
                        },
                        "quantity": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 10000,
                            "default": 1,
                        },
                        "warehouse": {"type": "string", "minLength": 1, "maxLength": 80},
                    },
                },
            }
        },
    },
    "ErpReservation": _answer(
        ["ticket", "reference", "state", "lines"],
        {
            "ticket": STR,
            "reference": STR,
            "state": {"enum": ["reserved", "released"]},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "part_number": STR,
                        "quantity": NUM,
                        "warehouse": NULL_STR,
                    },
                },
            },
        },
    ),
}
