"""The SQL examples of docs/warehouse.md run as they are printed (the project and dataset names
changed to the test's) against exported data, and give what the text says."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.config import Settings
from headwater.stores.warehouse import open_warehouse
from headwater.warehouse.export import Exporter
from tests.batch.logdata import ev, write_log

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"


def sql_examples() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)


def test_the_docs_sql_runs_and_counts_people(tmp_path: Path, warehouse_url: str) -> None:
    day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=2)
    stamp = [(day + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for i in range(4)]
    write_log(
        tmp_path,
        [
            ev(stamp[0], anon="a1"),
            ev(stamp[1], anon="a1", user="alice", type="identify"),
            ev(stamp[2], user="alice", mid="dup"),
            ev(stamp[2], user="alice", mid="dup", received=stamp[3]),
            ev(stamp[3], user="bob"),
        ],
    )
    wh = open_warehouse(warehouse_url)
    exporter = Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), wh)
    exporter.init()
    exporter.sync()
    examples = sql_examples()
    assert examples, "docs/warehouse.md has no SQL example"
    project, dataset = warehouse_url.split("://")[1].split("?")[0].split("/")
    for sql in examples:
        rows = wh.query(sql.replace("my-project.headwater", f"{project}.{dataset}")).rows
        assert rows == [{"day": day.date(), "dau": 2}]  # alice (with her anonymous visit) and bob
    exporter.close()
    wh.close()
