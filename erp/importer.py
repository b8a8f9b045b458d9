"""``switchboard erp import FILE.csv|FILE.xlsx``: loads the builtin adapter's tables.

One kind per CSV file (named by ``--kind``, else recognised from its header) or per
worksheet of a workbook (the sheet's name, else its header). A row whose key exists
updates that record, so a file can be loaded again after a fix. A whole file is one
transaction: the first bad cell stops the import with the file, line and column named,
and nothing of that file stays half-loaded.

Kinds and columns (``*`` required; dates ``YYYY-MM-DD``; lists split on ``;``):

- warehouses: code*, name_zh, name_en
- parts: part_number*, name_zh, name_en, models, lead_time_days, price, currency
- stock: part_number*, warehouse*, on_hand*, reserved, incoming, incoming_date
- orders: reference*, state*, customer, promised_date
- order_lines: reference*, part_number*, name, ordered*, delivered
- shipments: reference*, carrier, tracking_number, tracking_url, shipped_at
- serials: serial*, model*, customer, purchase_date, warranty_end, contract_end
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from erp.models import (
    ErpOrder,
    ErpOrderLine,
    ErpPart,
    ErpPartModel,
    ErpSerial,
    ErpShipment,
    ErpStock,
    ErpWarehouse,
)
from erp.port import OrderState


class ImportFailed(ValueError):
    """A bad cell: ``str()`` names the file, line and column."""

    def __init__(self, file: str, line: int, column: str | None, reason: str) -> None:
        where = f"{file}, line {line}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {reason}")
        self.file, self.line, self.column, self.reason = file, line, column, reason


class _Cell(ValueError):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column


Row = Mapping[str, str]


def _text(row: Row, column: str, *, required: bool = False, limit: int = 200) -> str:
    value = (row.get(column) or "").strip()
    if required and not value:
        raise _Cell(column, "is empty")
    if len(value) > limit:
        raise _Cell(column, f"is longer than {limit} characters")
    return value


def _opt(row: Row, column: str, limit: int = 200) -> str | None:
    return _text(row, column, limit=limit) or None


def _int(row: Row, column: str, *, required: bool = False, default: int = 0) -> int:
    raw = _text(row, column, required=required)
    if not raw:
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation as err:
        raise _Cell(column, f"{raw!r} is not a number") from err
    if value != value.to_integral_value() or value < 0:
        raise _Cell(column, f"{raw!r} is not a whole number of 0 or more")
    return int(value)


def _opt_int(row: Row, column: str) -> int | None:
    return _int(row, column) if _text(row, column) else None


def _date(row: Row, column: str) -> date | None:
    raw = _text(row, column)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as err:
        raise _Cell(column, f"{raw!r} is not a date (YYYY-MM-DD)") from err


def _datetime(row: Row, column: str) -> datetime | None:
    raw = _text(row, column)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as err:
        raise _Cell(column, f"{raw!r} is not a date and time (ISO 8601)") from err
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _cents(row: Row, column: str) -> int | None:
    raw = _text(row, column)
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as err:
        raise _Cell(column, f"{raw!r} is not a price") from err
    if value < 0:
        raise _Cell(column, "is negative")
    return int((value * 100).to_integral_value())


async def _part_id(session: AsyncSession, row: Row, column: str = "part_number") -> int:
    number = _text(row, column, required=True)
    found = (
        await session.execute(select(ErpPart.id).where(ErpPart.part_number == number))
    ).scalar_one_or_none()
    if found is None:
        raise _Cell(column, f"no part {number!r} (load parts first)")
    return found


async def _order_id(session: AsyncSession, row: Row) -> int:
    reference = _text(row, "reference", required=True)
    found = (
        await session.execute(select(ErpOrder.id).where(ErpOrder.reference == reference))
    ).scalar_one_or_none()
    if found is None:
        raise _Cell("reference", f"no order {reference!r} (load orders first)")
    return found


async def _by(session: AsyncSession, model: Any, **keys: Any) -> Any:
    return (await session.execute(select(model).filter_by(**keys))).scalar_one_or_none()


async def load_warehouse(session: AsyncSession, row: Row) -> None:
    code = _text(row, "code", required=True, limit=60)
    found = await _by(session, ErpWarehouse, code=code) or ErpWarehouse(code=code)
    found.name_zh, found.name_en = _text(row, "name_zh"), _text(row, "name_en")
    session.add(found)


async def load_part(session: AsyncSession, row: Row) -> None:
    number = _text(row, "part_number", required=True, limit=80)
    found = await _by(session, ErpPart, part_number=number) or ErpPart(part_number=number)
    found.name_zh, found.name_en = _text(row, "name_zh"), _text(row, "name_en")
    found.lead_time_days = _opt_int(row, "lead_time_days")
    found.price_cents = _cents(row, "price")
    currency = _opt(row, "currency", limit=3)
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise _Cell("currency", f"{currency!r} is not a three-letter currency code")
    found.currency = currency.upper() if currency else None
    session.add(found)
    await session.flush()
    models = [m.strip() for m in _text(row, "models", limit=2000).split(";") if m.strip()]
    if any(len(m) > 80 for m in models):
        raise _Cell("models", "a model is longer than 80 characters")
    await session.execute(delete(ErpPartModel).where(ErpPartModel.part_id == found.id))
    for model in dict.fromkeys(models):
        session.add(ErpPartModel(part_id=found.id, model=model))


async def load_stock(session: AsyncSession, row: Row) -> None:
    part_id = await _part_id(session, row)
    code = _text(row, "warehouse", required=True, limit=60)
    warehouse = await _by(session, ErpWarehouse, code=code)
    if warehouse is None:
        raise _Cell("warehouse", f"no warehouse {code!r} (load warehouses first)")
    found = await _by(session, ErpStock, part_id=part_id, warehouse_id=warehouse.id) or ErpStock(
        part_id=part_id, warehouse_id=warehouse.id
    )
    found.on_hand = _int(row, "on_hand", required=True)
    found.reserved = _int(row, "reserved")
    found.incoming = _int(row, "incoming")
    found.incoming_date = _date(row, "incoming_date")
    if found.reserved > found.on_hand:
        raise _Cell("reserved", "is more than on_hand")
    session.add(found)


async def load_order(session: AsyncSession, row: Row) -> None:
    reference = _text(row, "reference", required=True, limit=80)
    state = _text(row, "state", required=True)
    if state not in {s.value for s in OrderState}:
        raise _Cell("state", f"{state!r} is not one of {', '.join(s.value for s in OrderState)}")
    found = await _by(session, ErpOrder, reference=reference) or ErpOrder(reference=reference)
    found.state, found.customer = state, _opt(row, "customer")
    found.promised_date = _date(row, "promised_date")
    session.add(found)


async def load_order_line(session: AsyncSession, row: Row) -> None:
    order_id = await _order_id(session, row)
    number = _text(row, "part_number", required=True, limit=80)
    found = await _by(session, ErpOrderLine, order_id=order_id, part_number=number) or (
        ErpOrderLine(order_id=order_id, part_number=number)
    )
    found.name = _text(row, "name")
    found.ordered = _int(row, "ordered", required=True)
    found.delivered = _int(row, "delivered")
    if found.delivered > found.ordered:
        raise _Cell("delivered", "is more than ordered")
    session.add(found)


async def load_shipment(session: AsyncSession, row: Row) -> None:
    order_id = await _order_id(session, row)
    tracking = _opt(row, "tracking_number", limit=80)
    found = (
        await _by(session, ErpShipment, order_id=order_id, tracking_number=tracking)
        if tracking
        else None
    ) or ErpShipment(order_id=order_id, tracking_number=tracking)
    found.carrier = _opt(row, "carrier", limit=80)
    url = _opt(row, "tracking_url", limit=500)
    if url is not None and not url.startswith(("https://", "http://")):
        raise _Cell("tracking_url", "must be an http(s) address")
    found.tracking_url = url
    found.shipped_at = _datetime(row, "shipped_at")
    session.add(found)


async def load_serial(session: AsyncSession, row: Row) -> None:
    serial = _text(row, "serial", required=True, limit=80)
    found = await _by(session, ErpSerial, serial=serial) or ErpSerial(serial=serial)
    found.model = _text(row, "model", required=True, limit=80)
    found.customer = _opt(row, "customer")
    found.purchase_date = _date(row, "purchase_date")
    found.warranty_end = _date(row, "warranty_end")
    found.contract_end = _date(row, "contract_end")
    session.add(found)


@dataclass(frozen=True)
class Kind:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    load: Callable[[AsyncSession, Row], Awaitable[None]]

    @property
    def columns(self) -> set[str]:
        return {*self.required, *self.optional}


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("warehouses", ("code",), ("name_zh", "name_en"), load_warehouse),
        Kind(
            "parts",
            ("part_number",),
            ("name_zh", "name_en", "models", "lead_time_days", "price", "currency"),
            load_part,
        ),
        Kind(
            "stock",
            ("part_number", "warehouse", "on_hand"),
            ("reserved", "incoming", "incoming_date"),
            load_stock,
        ),
        Kind("orders", ("reference", "state"), ("customer", "promised_date"), load_order),
        Kind(
            "order_lines",
            ("reference", "part_number", "ordered"),
            ("name", "delivered"),
            load_order_line,
        ),
        Kind(
            "shipments",
            ("reference",),
            ("carrier", "tracking_number", "tracking_url", "shipped_at"),
            load_shipment,
        ),
        Kind(
            "serials",
            ("serial", "model"),
            ("customer", "purchase_date", "warranty_end", "contract_end"),
            load_serial,
        ),
    )
}
ORDER = list(KINDS)
"""The order a workbook's sheets load in (parts before their stock, orders before lines)."""


@dataclass
class Table:
    """One kind's rows from a file: ``(line number, row)`` pairs."""

    file: str
    kind: Kind
    rows: list[tuple[int, dict[str, str]]]


def _kind_for(file: str, header: Sequence[str], name: str | None) -> Kind:
    columns = {h for h in header if h}
    if name is not None:
        kind = KINDS.get(name.strip().lower())
        if kind is None:
            raise ImportFailed(file, 1, None, f"unknown kind {name!r}; kinds: {', '.join(KINDS)}")
    else:
        matches = [k for k in KINDS.values() if set(k.required) <= columns <= k.columns]
        if len(matches) != 1:
            raise ImportFailed(
                file,
                1,
                None,
                f"cannot tell the kind from the header; use --kind ({', '.join(KINDS)})",
            )
        kind = matches[0]
    missing = [c for c in kind.required if c not in columns]
    if missing:
        raise ImportFailed(file, 1, missing[0], f"missing required column for {kind.name}")
    unknown = sorted(columns - kind.columns)
    if unknown:
        raise ImportFailed(file, 1, unknown[0], f"unknown column for {kind.name}")
    return kind


def _header(cells: Sequence[Any]) -> list[str]:
    return [str(c).strip().lower() if c is not None else "" for c in cells]


def read_csv(path: Path, kind: str | None = None) -> list[Table]:
    file = path.name
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ImportFailed(file, 1, None, "is not UTF-8 text") from err
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = _header(next(reader))
    except StopIteration:
        raise ImportFailed(file, 1, None, "is empty") from None
    table = Table(file, _kind_for(file, header, kind or _stem_kind(path)), [])
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise ImportFailed(file, reader.line_num, None, "has more cells than the header")
            table.rows.append((reader.line_num, dict(zip(header, cells, strict=False))))
    except csv.Error as err:
        raise ImportFailed(file, reader.line_num, None, f"is not valid CSV: {err}") from err
    return [table]


def _stem_kind(path: Path) -> str | None:
    stem = path.stem.lower()
    return stem if stem in KINDS else None


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.isoformat() if value.time() != datetime.min.time() else value.date().isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(path: Path, kind: str | None = None) -> list[Table]:
    from openpyxl import load_workbook  # only this module reads workbooks

    file = path.name
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:
        raise ImportFailed(file, 1, None, f"is not an .xlsx workbook: {err}") from err
    tables: list[Table] = []
    try:
        for sheet in book.worksheets:
            rows: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True)
            first = next(rows, None)
            if first is None:
                continue
            where = f"{file} [{sheet.title}]"
            header = _header(first)
            name = kind or (sheet.title.lower() if sheet.title.lower() in KINDS else None)
            table = Table(where, _kind_for(where, header, name), [])
            for number, cells in enumerate(rows, start=2):
                values = [_cell_text(c) for c in cells]
                if any(v.strip() for v in values):
                    table.rows.append((number, dict(zip(header, values, strict=False))))
            tables.append(table)
    finally:
        book.close()
    tables.sort(key=lambda t: ORDER.index(t.kind.name))
    return tables


def read_file(path: Path, kind: str | None = None) -> list[Table]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path, kind)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, kind)
    raise ImportFailed(path.name, 1, None, "is neither .csv nor .xlsx")


Progress = Callable[[int, int], None]


async def load_tables(
    session: AsyncSession, tables: Sequence[Table], progress: Progress | None = None
) -> dict[str, int]:
    """Loads every row inside the caller's transaction; counts per kind."""
    total = sum(len(t.rows) for t in tables)
    done = 0
    counts: dict[str, int] = {}
    for table in tables:
        for line, row in table.rows:
            try:
                async with session.begin_nested():
                    await table.kind.load(session, row)
                    await session.flush()
            except _Cell as err:
                raise ImportFailed(table.file, line, err.column, str(err)) from err
            except Exception as err:
                raise ImportFailed(table.file, line, None, f"{type(err).__name__}: {err}") from err
            counts[table.kind.name] = counts.get(table.kind.name, 0) + 1
            done += 1
            if progress is not None:
                progress(done, total)
    return counts


async def load_records(session: AsyncSession, kind: str, rows: Sequence[Row]) -> int:
    """Loads rows given as mappings (the demo catalogue)."""
    table = Table(kind, KINDS[kind], [(n, dict(r)) for n, r in enumerate(rows, start=1)])
    return (await load_tables(session, [table])).get(kind, 0)
