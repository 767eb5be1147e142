"""Creating and changing bills of material and their versions; activating and retiring a
version. Each function is one transaction, audited.

A version changes only while DRAFT. Activating one locks its BOM (concurrent activations of
one BOM take turns), checks its units and that no chain of ACTIVE BOMs leads back to its own
item, retires the BOM's ACTIVE version and activates this one; the unique index of ACTIVE
versions refuses a second one whatever happens."""

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from taktline import records
from taktline.boms import reading
from taktline.boms.explosion import cycle_text, find_cycle, unit_mismatches
from taktline.boms.models import (
    Bom,
    BomInput,
    BomOperation,
    BomOperationAlternative,
    BomVersion,
    VersionStatus,
)
from taktline.boms.schemas import (
    BomCreate,
    BomUpdate,
    InputIn,
    OperationIn,
    VersionContent,
    VersionCreate,
    VersionUpdate,
)
from taktline.db import transaction, utcnow
from taktline.errors import Conflict, Loc
from taktline.events import service as events
from taktline.items.models import Item
from taktline.orgs.models import Customer
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource

BOM = "bom"
VERSION = "bom_version"


def create_bom(session: Session, actor: Actor, body: BomCreate) -> Bom:
    authorize(actor, "bom.create")
    with transaction(session):
        item = records.resolve_refs(
            session, Item, actor.org_id, [(["body", "item_id"], body.item_id)], kind="item"
        )[body.item_id]
        if body.owner_id is not None:
            records.resolve_refs(
                session,
                Customer,
                actor.org_id,
                [(["body", "owner_id"], body.owner_id)],
                kind="customer",
            )
        records.ensure_unique(
            session, Bom, actor.org_id, "code", body.code, kind="bill of material"
        )
        bom = Bom(
            org_id=actor.org_id,
            code=body.code,
            name=body.name,
            item_id=body.item_id,
            type=body.type,
            owner_id=body.owner_id,
        )
        session.add(bom)
        session.flush()
        events.record(
            session,
            actor,
            BOM,
            bom.id,
            "create",
            changes=body.model_dump(mode="json", exclude={"version"}),
        )
        if body.version is not None:
            _new_version(session, actor, bom, item, body.version, 1, ["body", "version"])
    return bom


def update_bom(
    session: Session,
    actor: Actor,
    bom_id: uuid.UUID,
    body: BomUpdate,
    expected_version: int | None,
) -> Bom:
    authorize(actor, "bom.update")
    changes = body.changes()
    with transaction(session):
        bom = reading.get_bom(session, actor, bom_id, for_update=True)
        records.check_version(bom, expected_version, bom.code)
        if changes.get("owner_id") is not None:
            records.resolve_refs(
                session,
                Customer,
                actor.org_id,
                [(["body", "owner_id"], changes["owner_id"])],
                kind="customer",
            )
        if "code" in changes:
            records.ensure_unique(
                session,
                Bom,
                actor.org_id,
                "code",
                changes["code"],
                kind="bill of material",
                but=bom.id,
            )
        diff = records.apply_changes(bom, changes)
        if diff:
            events.record(session, actor, BOM, bom.id, "update", changes=diff)
            session.flush()
    return bom


def create_version(
    session: Session, actor: Actor, bom_id: uuid.UUID, body: VersionCreate
) -> BomVersion:
    """A new DRAFT, numbered after the last: empty but for what `content` says, or a copy."""
    authorize(actor, "bom.update")
    with transaction(session):
        # Locked: two new versions of one BOM take turns for their numbers.
        bom = reading.get_bom(session, actor, bom_id, for_update=True)
        item = session.get_one(Item, bom.item_id)
        number = reading.next_number(session, bom.id)
        if body.copy_of is not None:
            source = reading.get_version(session, actor, bom.id, body.copy_of)
            content = _content_of(source)
        else:
            assert body.content is not None  # (the schema asks for one of the two)
            content = body.content
        version = _new_version(session, actor, bom, item, content, number, ["body", "content"])
        if body.copy_of is not None:
            version.notes = content.notes
    return version


def update_version(
    session: Session,
    actor: Actor,
    bom_id: uuid.UUID,
    number: int,
    body: VersionUpdate,
    expected_version: int | None,
) -> BomVersion:
    """Changes a DRAFT: its batch and, when given, the whole list of inputs or operations."""
    authorize(actor, "bom.update")
    changes = body.changes()
    with transaction(session):
        version = reading.get_version(session, actor, bom_id, number, for_update=True)
        bom = session.get_one(Bom, version.bom_id)
        records.check_version(version, expected_version, f"{bom.code} version {number}")
        _only_drafts(version, bom)
        item = session.get_one(Item, bom.item_id)
        inputs = changes.pop("inputs", None)
        operations = changes.pop("operations", None)
        if "batch_unit" in changes:
            changes["batch_unit"] = changes["batch_unit"] or item.unit
        diff = records.apply_changes(version, changes)
        if inputs is not None:
            given = [InputIn.model_validate(i) for i in inputs]
            _check_inputs(session, actor, given, ["body", "inputs"])
            # The old rows go first: the new ones take their positions (a unique key).
            version.inputs = []
            session.flush()
            version.inputs = _inputs(actor, given, _units(session, given))
            diff["inputs"] = [None, len(given)]
        if operations is not None:
            steps = [OperationIn.model_validate(o) for o in operations]
            _check_resources(session, actor, steps, ["body", "operations"])
            version.operations = []
            session.flush()
            version.operations = _operations(actor, steps)
            diff["operations"] = [None, len(steps)]
        if diff:
            version.updated_at = utcnow()
            events.record(
                session, actor, VERSION, version.id, "update", changes=diff, parent_id=bom.id
            )
            session.flush()
    return version


def activate(
    session: Session, actor: Actor, bom_id: uuid.UUID, number: int, expected_version: int | None
) -> BomVersion:
    authorize(actor, "bom.activate")
    with transaction(session):
        bom, version = _locked(session, actor, bom_id, number, expected_version)
        if "activate" not in reading.version_actions(version.status):
            raise Conflict(
                f"Version {number} of {bom.code} is {version.status}: only a DRAFT is "
                "activated. Start a new version as a copy of it instead.",
                current_state=version.status,
            )
        _check_activation(session, actor, bom, version)
        current = session.scalars(
            select(BomVersion)
            .where(BomVersion.bom_id == bom.id, BomVersion.status == VersionStatus.ACTIVE)
            .with_for_update()
        ).first()
        now = utcnow()
        if current is not None:
            current.status, current.retired_at = VersionStatus.RETIRED, now
            events.record(
                session,
                actor,
                VERSION,
                current.id,
                "retire",
                from_state=VersionStatus.ACTIVE,
                to_state=VersionStatus.RETIRED,
                reason=f"version {number} activated",
                parent_id=bom.id,
            )
            session.flush()  # retired before the next is ACTIVE: one at a time, always
        version.status, version.activated_at = VersionStatus.ACTIVE, now
        events.record(
            session,
            actor,
            VERSION,
            version.id,
            "activate",
            from_state=VersionStatus.DRAFT,
            to_state=VersionStatus.ACTIVE,
            parent_id=bom.id,
        )
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(
                f"Another version of {bom.code} was activated at the same moment; reload."
            ) from None
    return version


def retire(
    session: Session, actor: Actor, bom_id: uuid.UUID, number: int, expected_version: int | None
) -> BomVersion:
    authorize(actor, "bom.retire")
    with transaction(session):
        bom, version = _locked(session, actor, bom_id, number, expected_version)
        if "retire" not in reading.version_actions(version.status):
            raise Conflict(
                f"Version {number} of {bom.code} is {version.status}: only the ACTIVE one is "
                "retired.",
                current_state=version.status,
            )
        version.status, version.retired_at = VersionStatus.RETIRED, utcnow()
        events.record(
            session,
            actor,
            VERSION,
            version.id,
            "retire",
            from_state=VersionStatus.ACTIVE,
            to_state=VersionStatus.RETIRED,
            parent_id=bom.id,
        )
        session.flush()
    return version


# --- internals -----------------------------------------------------------------------------


def _locked(
    session: Session, actor: Actor, bom_id: uuid.UUID, number: int, expected: int | None
) -> tuple[Bom, BomVersion]:
    """The BOM, then its version, locked (a BOM's activations and retirements take turns),
    the version at the version the caller read."""
    bom = reading.get_bom(session, actor, bom_id, for_update=True)
    version = reading.get_version(session, actor, bom.id, number, for_update=True)
    records.check_version(version, expected, f"{bom.code} version {number}")
    return bom, version


def _only_drafts(version: BomVersion, bom: Bom) -> None:
    if "update" not in reading.version_actions(version.status):
        raise Conflict(
            f"Version {version.number} of {bom.code} is {version.status} and never changes; "
            "start a new version as a copy of it.",
            current_state=version.status,
        )


def _check_activation(session: Session, actor: Actor, bom: Bom, version: BomVersion) -> None:
    """Its units fit, and no chain of ACTIVE BOMs (with this version in its BOM's place)
    leads back to its own item."""
    items = {bom.item_id, *(i.item_id for i in version.inputs)}
    resources = {op.resource_id for op in version.operations if op.resource_id is not None}
    materials, capacities = reading.materials_and_capacities(
        session, actor.org_id, items, resources
    )
    recipe = reading.recipe_of(version, bom)
    problems = unit_mismatches(recipe, materials, capacities)
    if problems:
        raise Conflict(
            f"Version {version.number} of {bom.code} cannot be activated: " + " ".join(problems),
            problems=problems,
        )
    uses: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for made, used in session.execute(
        select(Bom.item_id, BomInput.item_id)
        .join(BomVersion, BomVersion.bom_id == Bom.id)
        .join(BomInput, BomInput.version_id == BomVersion.id)
        .where(
            Bom.org_id == actor.org_id,
            BomVersion.status == VersionStatus.ACTIVE,
            Bom.id != bom.id,
        )
    ):
        uses[made].add(used)
    uses[bom.item_id] |= {i.item_id for i in version.inputs}
    cycle = find_cycle(bom.item_id, uses)
    if cycle is not None:
        named, _ = reading.materials_and_capacities(session, actor.org_id, set(cycle), ())
        raise Conflict(
            f"Version {version.number} of {bom.code} cannot be activated: its item would be "
            f"made of itself ({cycle_text(cycle, named)})."
        )


def _content_of(version: BomVersion) -> VersionContent:
    return VersionContent.model_validate(
        {
            "batch_quantity": version.batch_quantity,
            "batch_unit": version.batch_unit,
            "output_loss_percent": version.output_loss_percent,
            "notes": version.notes,
            "inputs": [
                {
                    "item_id": i.item_id,
                    "quantity": i.quantity,
                    "unit": i.unit,
                    "loss_percent": i.loss_percent,
                }
                for i in version.inputs
            ],
            "operations": [
                {
                    "sequence": op.sequence,
                    "operation": op.operation,
                    "resource_id": op.resource_id,
                    "setup_minutes": op.setup_minutes,
                    "run_minutes_per_unit": op.run_minutes_per_unit,
                    "interruptible": op.interruptible,
                    "alternatives": [
                        {
                            "resource_id": a.resource_id,
                            "setup_minutes": a.setup_minutes,
                            "run_minutes_per_unit": a.run_minutes_per_unit,
                        }
                        for a in op.alternatives
                    ],
                }
                for op in version.operations
            ],
        }
    )


def _new_version(
    session: Session,
    actor: Actor,
    bom: Bom,
    item: Item,
    content: VersionContent,
    number: int,
    loc: Loc,
) -> BomVersion:
    _check_inputs(session, actor, content.inputs, [*loc, "inputs"])
    _check_resources(session, actor, content.operations, [*loc, "operations"])
    version = BomVersion(
        org_id=actor.org_id,
        bom_id=bom.id,
        number=number,
        status=VersionStatus.DRAFT,
        batch_quantity=content.batch_quantity,
        batch_unit=content.batch_unit or item.unit,
        output_loss_percent=content.output_loss_percent,
        notes=content.notes,
        inputs=_inputs(actor, content.inputs, _units(session, content.inputs)),
        operations=_operations(actor, content.operations),
    )
    session.add(version)
    session.flush()
    events.record(
        session,
        actor,
        VERSION,
        version.id,
        "create",
        to_state=VersionStatus.DRAFT,
        changes={"number": number, **content.model_dump(mode="json")},
        parent_id=bom.id,
    )
    return version


def _units(session: Session, inputs: list[InputIn]) -> dict[uuid.UUID, str]:
    if not inputs:
        return {}
    found = select(Item.id, Item.unit).where(Item.id.in_({i.item_id for i in inputs}))
    return {row.id: row.unit for row in session.execute(found)}


def _check_inputs(session: Session, actor: Actor, inputs: list[InputIn], loc: Loc) -> None:
    records.resolve_refs(
        session,
        Item,
        actor.org_id,
        [([*loc, i, "item_id"], line.item_id) for i, line in enumerate(inputs)],
        kind="item",
    )


def _check_resources(
    session: Session, actor: Actor, operations: list[OperationIn], loc: Loc
) -> None:
    refs: list[tuple[Loc, uuid.UUID]] = []
    for i, op in enumerate(operations):
        if op.resource_id is not None:
            refs.append(([*loc, i, "resource_id"], op.resource_id))
        refs.extend(
            ([*loc, i, "alternatives", k, "resource_id"], alt.resource_id)
            for k, alt in enumerate(op.alternatives)
        )
    records.resolve_refs(session, Resource, actor.org_id, refs, kind="resource")


def _inputs(actor: Actor, inputs: list[InputIn], units: dict[uuid.UUID, str]) -> list[BomInput]:
    return [
        BomInput(
            org_id=actor.org_id,
            position=position,
            item_id=line.item_id,
            quantity=line.quantity,
            unit=line.unit or units[line.item_id],
            loss_percent=line.loss_percent,
        )
        for position, line in enumerate(inputs, start=1)
    ]


def _operations(actor: Actor, operations: list[OperationIn]) -> list[BomOperation]:
    made = []
    for position, op in enumerate(operations, start=1):
        values: dict[str, Any] = op.model_dump(exclude={"alternatives", "sequence"})
        made.append(
            BomOperation(
                org_id=actor.org_id,
                sequence=op.sequence or position,
                alternatives=[
                    BomOperationAlternative(
                        org_id=actor.org_id,
                        position=k,
                        resource_id=alt.resource_id,
                        setup_minutes=alt.setup_minutes,
                        run_minutes_per_unit=alt.run_minutes_per_unit,
                    )
                    for k, alt in enumerate(op.alternatives, start=1)
                ],
                **values,
            )
        )
    return made
