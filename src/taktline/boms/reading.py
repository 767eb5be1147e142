"""Reading bills of material: one BOM, a list, a version, the differences between two, where an
item is used, and the recipes an explosion needs (`recipes_for`), one query per level."""

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from taktline import records
from taktline.boms.explosion import (
    Capacity,
    Conversion,
    Demand,
    ExplosionRefused,
    Input,
    Material,
    Operation,
    PlannedWorkOrder,
    Policy,
    Recipe,
    explode,
)
from taktline.boms.models import Bom, BomInput, BomVersion, VersionStatus
from taktline.boms.schemas import (
    BomOut,
    Difference,
    DiffOut,
    InputOut,
    OperationAlternativeOut,
    OperationOut,
    VersionBrief,
    VersionOut,
    WhereUsedOut,
)
from taktline.errors import Conflict, NotFound
from taktline.items.models import Item
from taktline.orders.models import ProductionOrder, ProductionOrderItem
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource

# How deep where-used looks (a BOM used in a BOM used in a BOM...).
MAX_LEVELS = 20


@dataclass(frozen=True)
class BomFilter:
    item_id: uuid.UUID | None = None
    type: str | None = None
    owner_id: uuid.UUID | None = None
    status: VersionStatus | None = None  # BOMs that have a version in this status


def get_bom(session: Session, actor: Actor, bom_id: uuid.UUID, for_update: bool = False) -> Bom:
    authorize(actor, "bom.read")
    return records.get_owned(
        session, Bom, actor.org_id, bom_id, kind="bill of material", for_update=for_update
    )


def list_boms(
    session: Session, actor: Actor, f: BomFilter, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[Bom], uuid.UUID | None]:
    authorize(actor, "bom.read")
    stmt = select(Bom).where(Bom.org_id == actor.org_id)
    if f.item_id is not None:
        stmt = stmt.where(Bom.item_id == f.item_id)
    if f.type is not None:
        stmt = stmt.where(Bom.type == f.type)
    if f.owner_id is not None:
        stmt = stmt.where(Bom.owner_id == f.owner_id)
    if f.status is not None:
        stmt = stmt.where(
            Bom.id.in_(
                select(BomVersion.bom_id).where(
                    BomVersion.org_id == actor.org_id, BomVersion.status == f.status
                )
            )
        )
    return records.page(session, stmt, Bom, after, limit)


def present_boms(session: Session, boms: Sequence[Bom]) -> list[BomOut]:
    """Response bodies, with every BOM's versions, in one query however many."""
    versions: dict[uuid.UUID, list[VersionBrief]] = {b.id: [] for b in boms}
    if boms:
        for row in session.execute(
            select(BomVersion.bom_id, BomVersion.id, BomVersion.number, BomVersion.status)
            .where(BomVersion.bom_id.in_(list(versions)))
            .order_by(BomVersion.bom_id, BomVersion.number)
        ):
            versions[row.bom_id].append(
                VersionBrief(id=row.id, number=row.number, status=row.status)
            )
    return [
        BomOut.model_validate(
            {
                **{k: getattr(b, k) for k in BomOut.model_fields if k != "versions"},
                "versions": versions[b.id],
            }
        )
        for b in boms
    ]


def get_version(
    session: Session, actor: Actor, bom_id: uuid.UUID, number: int, for_update: bool = False
) -> BomVersion:
    """A version of the actor's BOM, by number."""
    bom = get_bom(session, actor, bom_id, for_update=for_update)
    stmt = select(BomVersion).where(BomVersion.bom_id == bom.id, BomVersion.number == number)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    version = session.scalars(stmt).first()
    if version is None:
        raise NotFound(f"version of {bom.code}", number)
    return version


@dataclass(frozen=True)
class VersionRef:
    bom_id: uuid.UUID
    code: str
    number: int


def version_ref(session: Session, actor: Actor, version_id: uuid.UUID) -> VersionRef | None:
    """Which BOM and version number a version id is (what a generated work order shows)."""
    authorize(actor, "bom.read")
    row = session.execute(
        select(Bom.id, Bom.code, BomVersion.number)
        .join(BomVersion, BomVersion.bom_id == Bom.id)
        .where(BomVersion.id == version_id, Bom.org_id == actor.org_id)
    ).first()
    return None if row is None else VersionRef(row.id, row.code, row.number)


def present_version(version: BomVersion) -> VersionOut:
    return VersionOut.model_validate(
        {
            **{k: getattr(version, k) for k in VersionOut.model_fields},
            "inputs": [InputOut.model_validate(i) for i in version.inputs],
            "operations": [
                OperationOut.model_validate(
                    {
                        **{k: getattr(op, k) for k in OperationOut.model_fields},
                        "alternatives": [
                            OperationAlternativeOut.model_validate(a) for a in op.alternatives
                        ],
                    }
                )
                for op in version.operations
            ],
        }
    )


def _batch(version: BomVersion) -> dict[str, dict[str, str | None]]:
    return {
        field: {"value": None if value is None else str(value)}
        for field, value in (
            ("batch_quantity", version.batch_quantity),
            ("batch_unit", version.batch_unit),
            ("output_loss_percent", version.output_loss_percent),
            ("notes", version.notes),
        )
    }


def _text(values: Mapping[str, Any]) -> dict[str, str | None]:
    return {k: None if v is None else str(v) for k, v in values.items()}


def diff(session: Session, actor: Actor, bom_id: uuid.UUID, number: int, against: int) -> DiffOut:
    """What changed from version `against` to version `number`: the batch's fields, inputs
    by item, operations by sequence."""
    new = get_version(session, actor, bom_id, number)
    old = get_version(session, actor, bom_id, against)
    found: list[Difference] = []
    before_batch, after_batch = _batch(old), _batch(new)
    for field_name in after_batch:
        if before_batch[field_name] != after_batch[field_name]:
            found.append(
                Difference(
                    part="batch",
                    key=field_name,
                    before=before_batch[field_name],
                    after=after_batch[field_name],
                )
            )

    def inputs(v: BomVersion) -> dict[str, dict[str, str | None]]:
        return {
            str(i.item_id): _text(
                {"quantity": i.quantity, "unit": i.unit, "loss_percent": i.loss_percent}
            )
            for i in v.inputs
        }

    def operations(v: BomVersion) -> dict[str, dict[str, str | None]]:
        return {
            str(op.sequence): _text(
                {
                    "operation": op.operation,
                    "resource_id": op.resource_id,
                    "setup_minutes": op.setup_minutes,
                    "run_minutes_per_unit": op.run_minutes_per_unit,
                    "interruptible": op.interruptible,
                    "alternatives": ", ".join(
                        f"{a.resource_id} {a.setup_minutes}+{a.run_minutes_per_unit}"
                        for a in op.alternatives
                    ),
                }
            )
            for op in v.operations
        }

    for part, of in (("input", inputs), ("operation", operations)):
        before, after = of(old), of(new)
        for key in dict.fromkeys([*before, *after]):
            if before.get(key) != after.get(key):
                found.append(
                    Difference(part=part, key=key, before=before.get(key), after=after.get(key))
                )
    return DiffOut(version=number, against=against, differences=found)


def where_used(session: Session, actor: Actor, item_id: uuid.UUID) -> list[WhereUsedOut]:
    """Every BOM version that uses the item, directly (level 1) or through the items made of
    it (level 2 and deeper): one query per level."""
    authorize(actor, "item.read")
    item = records.get_owned(session, Item, actor.org_id, item_id, kind="item")
    found: list[WhereUsedOut] = []
    seen_versions: set[uuid.UUID] = set()
    frontier, seen_items = {item.id}, {item.id}
    for level in range(1, MAX_LEVELS + 1):
        if not frontier:
            break
        rows = session.execute(
            select(
                Bom.id,
                Bom.code,
                Bom.item_id,
                BomVersion.id.label("vid"),
                BomVersion.number,
                BomVersion.status,
            )
            .join(BomVersion, BomVersion.bom_id == Bom.id)
            .where(
                Bom.org_id == actor.org_id,
                BomVersion.id.in_(
                    select(BomInput.version_id).where(
                        BomInput.org_id == actor.org_id, BomInput.item_id.in_(frontier)
                    )
                ),
            )
            .order_by(Bom.code, BomVersion.number)
        ).all()
        frontier = set()
        for row in rows:
            if row.vid in seen_versions:
                continue
            seen_versions.add(row.vid)
            found.append(
                WhereUsedOut(
                    bom_id=row.id,
                    bom_code=row.code,
                    item_id=row.item_id,
                    version=row.number,
                    status=row.status,
                    level=level,
                )
            )
            if row.item_id not in seen_items:
                seen_items.add(row.item_id)
                frontier.add(row.item_id)
    return found


# --- what an explosion needs ---------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """The recipes of every item made under some roots, the items and resources they use,
    and which BOM and version number each recipe is."""

    recipes: dict[uuid.UUID, Recipe[uuid.UUID]]
    materials: dict[uuid.UUID, Material[uuid.UUID]]
    capacities: dict[uuid.UUID, Capacity[uuid.UUID]]
    versions: dict[uuid.UUID, BomVersion]  # by version id
    boms: dict[uuid.UUID, Bom]  # by BOM id


def recipe_of(version: BomVersion, bom: Bom) -> Recipe[uuid.UUID]:
    return Recipe(
        version=version.id,
        item=bom.item_id,
        batch_quantity=version.batch_quantity,
        batch_unit=version.batch_unit,
        output_loss_percent=version.output_loss_percent,
        inputs=tuple(
            Input(i.id, i.item_id, i.quantity, i.unit, i.loss_percent) for i in version.inputs
        ),
        routing=tuple(
            Operation(
                op.sequence,
                op.operation,
                op.resource_id,
                op.setup_minutes,
                op.run_minutes_per_unit,
                {"interruptible": op.interruptible, "alternatives": tuple(op.alternatives)},
            )
            for op in version.operations
        ),
    )


def material_of(item: Item) -> Material[uuid.UUID]:
    return Material(
        item.id,
        item.name,
        item.unit,
        item.precision,
        tuple(Conversion(c["unit"], c["quantity"], c["base_quantity"]) for c in item.conversions),
    )


def materials_and_capacities(
    session: Session,
    org_id: uuid.UUID,
    items: Collection[uuid.UUID],
    resources: Collection[uuid.UUID],
) -> tuple[dict[uuid.UUID, Material[uuid.UUID]], dict[uuid.UUID, Capacity[uuid.UUID]]]:
    materials = {
        item.id: material_of(item)
        for item in session.scalars(select(Item).where(Item.org_id == org_id, Item.id.in_(items)))
    }
    capacities = {
        r.id: Capacity(r.id, r.code, r.capacity_min, r.capacity_max, r.capacity_unit)
        for r in session.execute(
            select(
                Resource.id,
                Resource.code,
                Resource.capacity_min,
                Resource.capacity_max,
                Resource.capacity_unit,
            ).where(Resource.org_id == org_id, Resource.id.in_(resources))
        )
    }
    return materials, capacities


def recipes_for(
    session: Session,
    org_id: uuid.UUID,
    roots: Iterable[uuid.UUID],
    owner_id: uuid.UUID | None,
    chosen: Mapping[uuid.UUID, int] | None = None,
    allow_drafts: bool = False,
) -> Loaded:
    """For every item made under `roots`, the BOM that makes it and the version to use: the
    version `chosen` names for its BOM (by BOM id), else its ACTIVE one. Where several BOMs of
    an item have one, the owner's own recipe comes first, then the manufacturer's (no
    owner); more than one left is refused, naming them. One query per level."""
    chosen = dict(chosen or {})
    recipes: dict[uuid.UUID, Recipe[uuid.UUID]] = {}
    versions: dict[uuid.UUID, BomVersion] = {}
    boms: dict[uuid.UUID, Bom] = {}
    items: set[uuid.UUID] = set(roots)
    resources: set[uuid.UUID] = set()
    frontier = set(items)
    for _ in range(MAX_LEVELS + 1):
        if not frontier:
            break
        picked = or_(
            BomVersion.status == VersionStatus.ACTIVE,
            *(
                and_(BomVersion.bom_id == bom_id, BomVersion.number == number)
                for bom_id, number in chosen.items()
            ),
        )
        rows = session.execute(
            select(Bom, BomVersion)
            .join(BomVersion, BomVersion.bom_id == Bom.id)
            .where(Bom.org_id == org_id, Bom.item_id.in_(frontier), picked)
            .order_by(Bom.code)
        ).all()
        per_item: dict[uuid.UUID, list[tuple[Bom, BomVersion]]] = {}
        for bom, version in rows:
            if bom.id in chosen and version.number != chosen[bom.id]:
                continue  # its ACTIVE version, passed over for the one chosen
            if bom.owner_id not in (None, owner_id):
                continue  # another brand's recipe
            per_item.setdefault(bom.item_id, []).append((bom, version))
        frontier = set()
        for item_id, candidates in per_item.items():
            best = [c for c in candidates if c[0].owner_id == owner_id] or candidates
            if len(best) > 1:
                codes = ", ".join(bom.code for bom, _ in best)
                raise Conflict(
                    f"Several bills of material make the same item and are active: {codes}. "
                    "Retire all but one, or name the version to use."
                )
            bom, version = best[0]
            if version.status is VersionStatus.DRAFT and not allow_drafts:
                raise Conflict(
                    f"Version {version.number} of {bom.code} is a DRAFT: work orders are made "
                    "only from a version that no longer changes (ACTIVE or RETIRED)."
                )
            recipes[item_id] = recipe_of(version, bom)
            versions[version.id] = version
            boms[bom.id] = bom
            for line in version.inputs:
                if line.item_id not in items:
                    items.add(line.item_id)
                    frontier.add(line.item_id)
            for op in version.operations:
                if op.resource_id is not None:
                    resources.add(op.resource_id)
    materials, capacities = materials_and_capacities(session, org_id, items, resources)
    return Loaded(recipes, materials, capacities, versions, boms)


def next_number(session: Session, bom_id: uuid.UUID) -> int:
    return int(session.scalar(select(func.coalesce(func.max(BomVersion.number), 0)).where(
        BomVersion.bom_id == bom_id)) or 0) + 1  # fmt: skip


# --- what a version's status allows; what generating an order would make ---------------------

# The lifecycle of a version: only a DRAFT changes and is activated; only the ACTIVE one is
# retired; any version may be copied into a new DRAFT (`bom.update`). `editing` refuses by
# it, the portal offers its buttons by it.
VERSION_ACTIONS: Mapping[VersionStatus, tuple[str, ...]] = {
    VersionStatus.DRAFT: ("update", "activate"),
    VersionStatus.ACTIVE: ("retire",),
    VersionStatus.RETIRED: (),
}


def version_actions(status: VersionStatus) -> tuple[str, ...]:
    """The actions (`bom.<action>` in the permissions table) a version in `status` allows."""
    return VERSION_ACTIONS[status]


@dataclass(frozen=True)
class OrderPlan:
    """The work orders generating a production order would make, in the explosion's order,
    and the recipes, items and resources they are made from."""

    loaded: Loaded
    work_orders: list[PlannedWorkOrder[uuid.UUID]]


def plan(
    loaded: Loaded, demands: Sequence[Demand[uuid.UUID]], policy: Policy
) -> list[PlannedWorkOrder[uuid.UUID]]:
    """The work orders `demands` take, from the recipes `loaded` for them; refused (409)
    with the explosion's words."""
    try:
        return explode(demands, loaded.recipes, loaded.materials, loaded.capacities, policy)
    except ExplosionRefused as refused:
        raise Conflict(str(refused)) from None


def plan_items(
    loaded: Loaded, items: Sequence[ProductionOrderItem], policy: Policy
) -> list[PlannedWorkOrder[uuid.UUID]]:
    """The work orders a production order's `items` take (`plan`): each item's quantity in
    its own unit, rounded up to its precision. Generating and its preview both ask this."""
    try:
        demands = [
            Demand(
                it.item_id,
                loaded.materials[it.item_id].rounded_up(
                    loaded.materials[it.item_id].in_base(Fraction(it.quantity), it.unit)
                ),
            )
            for it in items
        ]
    except ExplosionRefused as refused:  # (a unit the item does not convert from)
        raise Conflict(str(refused)) from None
    return plan(loaded, demands, policy)


def order_plan(
    session: Session,
    actor: Actor,
    po_id: uuid.UUID,
    policy: Policy = Policy(),
    chosen: Mapping[uuid.UUID, int] | None = None,
) -> OrderPlan:
    """What `generation.generate` would make of a production order's items, writing nothing:
    the same BOM versions, each item's quantity in its own unit rounded up to its precision,
    the same explosion, refused (409) in the same words. One query per level."""
    authorize(actor, "production_order.read")
    authorize(actor, "bom.read")
    po = records.get_owned(session, ProductionOrder, actor.org_id, po_id, kind="production order")
    loaded = recipes_for(
        session, actor.org_id, [it.item_id for it in po.items], po.owner_id, chosen
    )
    planned = plan_items(loaded, po.items, policy)
    return OrderPlan(loaded, planned)
