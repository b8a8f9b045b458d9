"""``switchboard erp import``: a good file loads with counts, a bad cell is named by file,
line and column and nothing of the file stays, workbooks load sheet by sheet."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook

from erp.builtin import BuiltinErp
from erp.port import ErpNotFound
from switchboard import db
from switchboard.cli_erp import ProgressBar
from tests.helpers import Clock, RecordingPublisher
from tests.switchboard.test_cli import run
from tickets import Desk


async def lookup(url: str, part: str) -> object:
    engine = db.create_engine(url)
    desk = Desk(db.session_factory(engine), RecordingPublisher(), Clock())
    try:
        return await BuiltinErp(desk).part_availability(part)
    except ErpNotFound:
        return None
    finally:
        await desk.close()
        await engine.dispose()


def write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


async def test_good_csv_files_load_with_counts(database_url: str, tmp_path: Path) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": database_url}
    houses = write(tmp_path / "warehouses.csv", "code,name_zh,name_en\nWuhan,武汉仓,Wuhan\n")
    code, out, err = await run("erp", "import", str(houses), env=env)
    assert code == 0, err
    assert "imported 1 warehouses from warehouses.csv" in out
    parts = write(
        tmp_path / "catalogue.csv",
        "part_number,name_zh,name_en,models,lead_time_days,price,currency\n"
        "HX-1,换热器,Heat exchanger,KFR-26GW/A;KFR-26GW/B,9,420.50,cny\n"
        "HX-2,四通阀,Four-way valve,KFR-26GW/A,3,75,CNY\n",
    )
    code, out, err = await run("erp", "import", str(parts), env=env)
    assert code == 0, err
    assert "imported 2 parts" in out
    stock = write(
        tmp_path / "levels.csv",
        "part_number,warehouse,on_hand,reserved,incoming,incoming_date\n"
        "HX-1,Wuhan,5,1,10,2026-12-20\n",
    )
    code, out, err = await run("erp", "import", str(stock), "--kind", "stock", env=env)
    assert code == 0, err
    part = await lookup(database_url, "KFR-26GW/B")
    assert part is not None
    assert part.part_number == "HX-1"  # type: ignore[attr-defined]
    assert part.currency == "CNY"  # type: ignore[attr-defined]
    level = part.stock[0]  # type: ignore[attr-defined]
    assert (level.warehouse, level.available, level.projected) == ("Wuhan", 4, 14)


async def test_a_bad_line_is_named_and_nothing_stays(database_url: str, tmp_path: Path) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": database_url}
    parts = write(
        tmp_path / "parts.csv",
        "part_number,name_en,price\nOK-1,Good part,10\nBAD-1,Bad part,ten yuan\n",
    )
    code, _, err = await run("erp", "import", str(parts), env=env)
    assert code == 2
    assert "parts.csv, line 3, column 'price': 'ten yuan' is not a price" in err
    assert "nothing was imported" in err
    assert await lookup(database_url, "OK-1") is None, "the good line was rolled back too"

    stock = write(tmp_path / "stock.csv", "part_number,warehouse,on_hand\nNOPE,Wuhan,1\n")
    code, _, err = await run("erp", "import", str(stock), env=env)
    assert code == 2 and "stock.csv, line 2, column 'part_number': no part 'NOPE'" in err

    odd = write(tmp_path / "things.csv", "part_number,colour\nX,red\n")
    code, _, err = await run("erp", "import", str(odd), env=env)
    assert code == 2 and "things.csv, line 1" in err and "--kind" in err
    code, _, err = await run("erp", "import", str(odd), "--kind", "parts", env=env)
    assert code == 2 and "column 'colour': unknown column for parts" in err
    code, _, err = await run("erp", "import", str(tmp_path / "missing.csv"), env=env)
    assert code == 2 and "no such file" in err


async def test_a_workbook_loads_each_sheet_in_order(database_url: str, tmp_path: Path) -> None:
    book = Workbook()
    stock = book.active
    assert stock is not None
    stock.title = "stock"  # listed first, loaded after its parts and warehouses
    stock.append(["part_number", "warehouse", "on_hand"])
    stock.append(["PX-9", "Xian", 7])
    parts = book.create_sheet("parts")
    parts.append(["part_number", "name_zh", "name_en", "models"])
    parts.append(["PX-9", "风扇", "Fan", "ES80H-X1"])
    houses = book.create_sheet("warehouses")
    houses.append(["code", "name_en"])
    houses.append(["Xian", "Xi'an"])
    path = tmp_path / "erp.xlsx"
    book.save(path)
    code, out, err = await run(
        "erp", "import", str(path), env={"SWITCHBOARD_DATABASE_URL": database_url}
    )
    assert code == 0, err
    assert "1 warehouses, 1 parts, 1 stock" in out
    part = await lookup(database_url, "ES80H-X1")
    assert part is not None and part.stock[0].on_hand == 7  # type: ignore[attr-defined]

    bad = Workbook()
    sheet = bad.active
    assert sheet is not None
    sheet.title = "serials"
    sheet.append(["serial", "model", "purchase_date"])
    sheet.append(["SN-1", "ES80H-X1", "yesterday"])
    bad.save(tmp_path / "bad.xlsx")
    code, _, err = await run(
        "erp", "import", str(tmp_path / "bad.xlsx"), env={"SWITCHBOARD_DATABASE_URL": database_url}
    )
    assert code == 2 and "bad.xlsx [serials], line 2, column 'purchase_date'" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only() -> None:
    screen = Terminal()
    bar = ProgressBar(screen, "parts.csv", width=10)
    bar(1, 4)
    bar(4, 4)
    assert screen.getvalue().endswith("\rparts.csv [##########] 4/4\n")
    assert "[##........] 1/4" in screen.getvalue()
    piped = io.StringIO()
    ProgressBar(piped, "parts.csv")(4, 4)
    assert piped.getvalue() == ""
