"""Exporting bills of material as CSV, in the very layout an import reads (`csv_format`):
items by SKU, resources by code, a brand by its customer code (by its name where it has none,
or shares it). A fixed number of queries however many BOMs.

Each BOM is written with one version: the one asked for, else its ACTIVE one, else its
newest; with a `status`, its newest version in that status. A BOM without versions has
nothing to write."""

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from taktline.boms import csv_format, reading
from taktline.boms.csv_format import AlternativeLine, InputLine, OperationLine, SheetBom
from taktline.boms.models import Bom, BomVersion, VersionStatus
from taktline.items.models import Item
from taktline.orgs.models import Customer
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource

PAGE = 500


@dataclass(frozen=True)
class Export:
    text: str
    boms: int
    filename: str

    @property
    def content(self) -> bytes:
        return csv_format.encoded(self.text)


def export_boms(session: Session, actor: Actor, f: reading.BomFilter) -> Export:
    """Every BOM of the organisation that the list's filters let through, by code."""
    authorize(actor, "bom.read")
    boms: list[Bom] = []
    after: uuid.UUID | None = None
    while True:  # the list's own filters, a page of PAGE at a time
        rows, last = reading.list_boms(session, actor, f, after, PAGE)
        boms.extend(rows)
        if last is None:
            break
        after = last
    versions = _chosen(session, boms, f.status)
    return Export(_written(session, actor, boms, versions), len(versions), "boms.csv")


def export_bom(
    session: Session, actor: Actor, bom_id: uuid.UUID, number: int | None = None
) -> Export:
    """One BOM, with version `number` (else its ACTIVE one, else its newest)."""
    bom = reading.get_bom(session, actor, bom_id)
    if number is not None:
        versions = {bom.id: reading.get_version(session, actor, bom.id, number).id}
    else:
        versions = _chosen(session, [bom], None)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", bom.code).strip("._") or "bom"
    return Export(_written(session, actor, [bom], versions), len(versions), f"{name}.csv")


def _chosen(
    session: Session, boms: Sequence[Bom], status: VersionStatus | None
) -> dict[uuid.UUID, uuid.UUID]:
    """The version to write of each BOM (by BOM id): one query."""
    if not boms:
        return {}
    candidates: dict[uuid.UUID, list[tuple[int, VersionStatus, uuid.UUID]]] = {}
    for row in session.execute(
        select(BomVersion.bom_id, BomVersion.number, BomVersion.status, BomVersion.id).where(
            BomVersion.bom_id.in_([b.id for b in boms])
        )
    ):
        if status is None or row.status == status:
            candidates.setdefault(row.bom_id, []).append((row.number, row.status, row.id))
    chosen = {}
    for bom_id, found in candidates.items():
        active = [v for v in found if v[1] is VersionStatus.ACTIVE]
        chosen[bom_id] = (active or sorted(found))[-1][2]
    return chosen


def _number(value: Decimal) -> str:
    return format(value, "f")


def _written(
    session: Session, actor: Actor, boms: Iterable[Bom], chosen: dict[uuid.UUID, uuid.UUID]
) -> str:
    org = actor.org_id
    versions: dict[uuid.UUID, BomVersion] = {}
    if chosen:
        versions = {
            v.bom_id: v
            for v in session.scalars(select(BomVersion).where(BomVersion.id.in_(chosen.values())))
        }
    written = [b for b in sorted(boms, key=lambda b: b.code) if b.id in versions]
    item_ids = {b.item_id for b in written} | {
        i.item_id for v in versions.values() for i in v.inputs
    }
    resource_ids = {
        r
        for v in versions.values()
        for op in v.operations
        for r in (op.resource_id, *(a.resource_id for a in op.alternatives))
        if r is not None
    }
    owner_ids = {b.owner_id for b in written if b.owner_id is not None}
    skus: dict[uuid.UUID, str] = {}
    if item_ids:
        skus = {
            row.id: row.sku
            for row in session.execute(
                select(Item.id, Item.sku).where(Item.org_id == org, Item.id.in_(item_ids))
            )
        }
    codes: dict[uuid.UUID, str] = {}
    if resource_ids:
        codes = {
            row.id: row.code
            for row in session.execute(
                select(Resource.id, Resource.code).where(
                    Resource.org_id == org, Resource.id.in_(resource_ids)
                )
            )
        }
    owners = _owners(session, org, owner_ids)
    sheet = []
    for bom in written:
        v = versions[bom.id]
        sheet.append(
            SheetBom(
                code=bom.code,
                name=bom.name,
                type=bom.type,
                output_sku=skus[bom.item_id],
                batch_quantity=_number(v.batch_quantity),
                owner=owners[bom.owner_id] if bom.owner_id is not None else "",
                batch_unit=v.batch_unit,
                output_loss_percent=_number(v.output_loss_percent),
                notes=v.notes or "",
                inputs=tuple(
                    InputLine(skus[i.item_id], _number(i.quantity), i.unit, _number(i.loss_percent))
                    for i in v.inputs
                ),
                operations=tuple(
                    OperationLine(
                        op.sequence,
                        op.operation,
                        codes[op.resource_id] if op.resource_id is not None else "",
                        _number(op.setup_minutes),
                        _number(op.run_minutes_per_unit),
                        op.interruptible,
                        tuple(
                            AlternativeLine(
                                codes[a.resource_id],
                                _number(a.setup_minutes),
                                _number(a.run_minutes_per_unit),
                            )
                            for a in op.alternatives
                        ),
                    )
                    for op in v.operations
                ),
            )
        )
    return csv_format.write(sheet)


def _owners(session: Session, org: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """How the file names each owner: its code where no other customer has it, else its
    name (which is unique): what an import reads back to the same customer."""
    if not ids:
        return {}
    owners = session.execute(
        select(Customer.id, Customer.code, Customer.name).where(
            Customer.org_id == org, Customer.id.in_(ids)
        )
    ).all()
    codes = {c.code for c in owners if c.code}
    shared: set[str] = set()
    if codes:
        shared = {
            code
            for code, count in session.execute(
                select(Customer.code, func.count())
                .where(Customer.org_id == org, Customer.code.in_(codes))
                .group_by(Customer.code)
            )
            if count > 1 and code is not None
        }
    return {c.id: c.code if c.code and c.code not in shared else c.name for c in owners}
