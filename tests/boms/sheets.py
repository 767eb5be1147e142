"""CSV files of bills of material for tests, in the layout of taktline.boms.csv_format."""

import csv
import io
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi.testclient import TestClient

from taktline.boms.csv_format import NAMES
from tests.helpers import API, Tenant


def csv_of(*rows: Mapping[str, str], header: tuple[str, ...] = NAMES) -> bytes:
    """A file of the rows (each a mapping of column to cell; the others blank)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row.get(name, "") for name in header)
    return out.getvalue().encode()


def rows_of(data: bytes | str) -> list[dict[str, str]]:
    """A file's rows as mappings of column to cell (a byte order mark skipped)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def send(
    client: TestClient,
    tenant: Tenant,
    data: bytes,
    *,
    dry_run: bool = False,
    role: str = "planner",
    content_type: str = "text/csv",
) -> httpx.Response:
    """POST /boms/import."""
    params: dict[str, Any] = {"dry_run": "true"} if dry_run else {}
    response: httpx.Response = client.post(
        f"{API}/boms/import",
        content=data,
        params=params,
        headers={**tenant.headers(role), "Content-Type": content_type},
    )
    return response


def cells(problem: Mapping[str, Any]) -> list[tuple[int, str | None]]:
    """The (row, column) of each error of a 422 of the import."""
    return [(e["row"], e["column"]) for e in problem["errors"]]
