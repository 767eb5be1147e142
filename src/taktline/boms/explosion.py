"""The explosion of bills of material: from what a production order asks for to the work
orders that make it, their materials and what each waits for. Pure: plain data in, plain data
out, exact arithmetic (fractions inside, decimals rounded up to each item's precision out).

The rules, as a planner would do them by hand:

- A work order makes an item by its BOM version's recipe. To deliver a quantity it plans that
  quantity plus the version's output loss (`planned = demand x (1 + loss %)`), rounded up to
  the item's precision.
- Each input is needed in proportion: `quantity / batch size x input quantity x (1 + input
  loss %)`, rounded up to the input item's precision, in the item's own unit (a line in
  another unit is converted by a conversion the item declares).
- An input item with a recipe of its own is made by its own work orders: all the demand for
  it (from every work order of the levels above) is added up first, then planned, split and
  pegged; the levels are processed by low-level code, the deepest level an item appears at
  (MRP's way), so no item is exploded before all its demand is known.
- Splitting: a work order may not exceed the smallest maximum capacity of the resources of its
  routing, in its unit; it becomes full work orders of that capacity and the remainder, or
  even ones (`Split.EVEN`). A work order below the largest minimum capacity is refused, or
  rounded up to it when the policy allows.
- Pegging: the demand of the consumers, in order, is laid along the supply of the splits, in
  order; a consumer depends on every split its share overlaps (each bottling work order waits
  for the batches that feed it).
"""

import enum
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Generic, TypeVar

K = TypeVar("K")  # what identifies an item, a resource, a BOM line: ids, or names in tests

HUNDRED = Fraction(100)


class ExplosionRefused(Exception):
    """What cannot be exploded, in words the planner reads."""


@dataclass(frozen=True)
class Conversion:
    """`quantity` of `unit` is `base_quantity` of the item's own unit (3.785 L = 1 gal,
    1 case = 24 ea)."""

    unit: str
    quantity: Decimal
    base_quantity: Decimal


@dataclass(frozen=True)
class Material(Generic[K]):
    """An item as the explosion sees it: its unit, its precision (decimal places; quantities
    are rounded up to it) and the other units it may be counted in."""

    id: K
    name: str
    unit: str
    precision: int = 0
    conversions: tuple[Conversion, ...] = ()

    def in_base(self, quantity: Fraction, unit: str) -> Fraction:
        """`quantity` of `unit` in the item's own unit; refused when it declares no way."""
        if unit == self.unit:
            return quantity
        for c in self.conversions:
            if c.unit == unit:
                return quantity * Fraction(c.base_quantity) / Fraction(c.quantity)
        raise ExplosionRefused(
            f"{self.name} is counted in {self.unit} and declares no conversion from {unit}."
        )

    def converts(self, unit: str) -> bool:
        return unit == self.unit or any(c.unit == unit for c in self.conversions)

    def rounded_up(self, quantity: Fraction) -> Decimal:
        """Up to the item's precision (a bottle is a whole bottle)."""
        step = 10**self.precision
        exact = Decimal(math.ceil(quantity * step)).scaleb(-self.precision).normalize()
        # The shortest form, never an exponent: 637.500 is 637.5, 1E+3 is 1000.
        return exact.quantize(Decimal(1)) if exact == exact.to_integral_value() else exact


@dataclass(frozen=True)
class Capacity(Generic[K]):
    """What a resource takes in one run, in `unit` (a 1,000-gallon tank)."""

    id: K
    code: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    unit: str | None = None


@dataclass(frozen=True)
class Input(Generic[K]):
    line: K
    item: K
    quantity: Decimal  # per batch
    unit: str
    loss_percent: Decimal = Decimal(0)


@dataclass(frozen=True)
class Operation(Generic[K]):
    """A step of the routing; `resource` does it (its alternatives are the scheduler's
    business and travel along in `extra`)."""

    sequence: int
    name: str
    resource: K | None
    setup_minutes: Decimal = Decimal(0)
    run_minutes_per_unit: Decimal = Decimal(0)
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe(Generic[K]):
    """A BOM version: how `item` is made, per batch of `batch_quantity` `batch_unit`."""

    version: K
    item: K
    batch_quantity: Decimal
    batch_unit: str
    output_loss_percent: Decimal = Decimal(0)
    inputs: tuple[Input[K], ...] = ()
    routing: tuple[Operation[K], ...] = ()


class Split(enum.StrEnum):
    FULL = "FULL"  # work orders of the full capacity, then the remainder
    EVEN = "EVEN"  # as many work orders as needed, of equal size


@dataclass(frozen=True)
class Policy:
    split: Split = Split.FULL
    round_up_to_minimum: bool = False


@dataclass(frozen=True)
class Requirement(Generic[K]):
    """A material a work order needs: from which input line, how much, in the item's unit."""

    line: K
    item: K
    quantity: Decimal
    unit: str


@dataclass(frozen=True)
class PlannedWorkOrder(Generic[K]):
    """One work order to create. `key` is its place in the explosion (0, 1, ...); it waits for
    the work orders of `depends_on` (keys), and feeds `feeds`."""

    key: int
    item: K
    quantity: Decimal
    unit: str
    version: K
    level: int
    routing: tuple[Operation[K], ...]
    materials: tuple[Requirement[K], ...]
    depends_on: tuple[int, ...]
    demand: int | None  # which of the demands (production order items) it delivers, at the top


@dataclass(frozen=True)
class Demand(Generic[K]):
    item: K
    quantity: Decimal  # in the item's own unit


# --- units, capacities, cycles: what activation checks ------------------------------------


def unit_mismatches(
    recipe: Recipe[K], materials: Mapping[K, Material[K]], capacities: Mapping[K, Capacity[K]]
) -> list[str]:
    """Every unit of a version that does not fit, in words: its batch and each input must be
    counted in their item's unit or one it converts from, and each resource of its routing
    must take its capacity in the BOM's unit (the batch's, or one the item converts from)."""
    found = []
    output = materials[recipe.item]
    if not output.converts(recipe.batch_unit):
        found.append(
            f"The batch is in {recipe.batch_unit}, but {output.name} is counted in "
            f"{output.unit} and declares no conversion from {recipe.batch_unit}."
        )
    for line in recipe.inputs:
        material = materials[line.item]
        if not material.converts(line.unit):
            found.append(
                f"Input {material.name} is in {line.unit}, but {material.name} is counted in "
                f"{material.unit} and declares no conversion from {line.unit}."
            )
    for step in recipe.routing:
        capacity = capacities.get(step.resource) if step.resource is not None else None
        if capacity is None or capacity.unit is None:
            continue
        if capacity.unit != recipe.batch_unit and not output.converts(capacity.unit):
            found.append(
                f"Resource {capacity.code} takes its capacity in {capacity.unit}, but this "
                f"BOM is in {recipe.batch_unit}."
            )
    return found


def find_cycle(start: K, uses: Mapping[K, Iterable[K]]) -> list[K] | None:
    """A path from `start` back to itself through `uses` (an item -> the items its BOM uses),
    such as [A, B, A]; None when there is none."""
    path: list[K] = [start]
    on_path = {start}
    done: set[K] = set()

    def visit(item: K) -> list[K] | None:
        for used in uses.get(item, ()):
            if used == start or used in on_path:
                return [*path[path.index(used) :], used]
            if used in done:
                continue
            path.append(used)
            on_path.add(used)
            cycle = visit(used)
            if cycle is not None:
                return cycle
            path.pop()
            on_path.discard(used)
            done.add(used)
        return None

    return visit(start)


# --- splitting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """The most and the least one work order may make, in the item's unit, and why."""

    maximum: Fraction | None
    minimum: Fraction | None
    by_maximum: str = ""
    by_minimum: str = ""


def limits(recipe: Recipe[K], material: Material[K], capacities: Mapping[K, Capacity[K]]) -> Limits:
    """The smallest maximum and the largest minimum of the routing's resources."""
    maximum: Fraction | None = None
    minimum: Fraction | None = None
    by_maximum = by_minimum = ""
    for step in recipe.routing:
        capacity = capacities.get(step.resource) if step.resource is not None else None
        if capacity is None:
            continue
        unit = capacity.unit or material.unit
        if capacity.maximum is not None:
            most = material.in_base(Fraction(capacity.maximum), unit)
            if maximum is None or most < maximum:
                maximum, by_maximum = most, f"{capacity.code} ({capacity.maximum} {unit})"
        if capacity.minimum is not None and capacity.minimum > 0:
            least = material.in_base(Fraction(capacity.minimum), unit)
            if minimum is None or least > minimum:
                minimum, by_minimum = least, f"{capacity.code} ({capacity.minimum} {unit})"
    if maximum is not None and maximum <= 0:
        raise ExplosionRefused(f"{by_maximum} takes nothing in a run.")
    if maximum is not None and minimum is not None and minimum > maximum:
        raise ExplosionRefused(
            f"The routing of {material.name} needs at least {by_minimum} and at most "
            f"{by_maximum} a run: no work order fits both."
        )
    return Limits(maximum, minimum, by_maximum, by_minimum)


def split(
    quantity: Decimal, material: Material[K], bounds: Limits, policy: Policy
) -> list[Decimal]:
    """`quantity` in work orders within `bounds`, each a multiple of the item's precision."""
    step = Fraction(1, 10**material.precision)
    most = None if bounds.maximum is None else math.floor(bounds.maximum / step)  # in steps
    if most is not None and most == 0:
        raise ExplosionRefused(
            f"{bounds.by_maximum} takes less than one {material.unit} of {material.name}."
        )
    total = math.ceil(Fraction(quantity) / step)
    if most is None or total <= most:
        parts = [total]
    elif policy.split is Split.EVEN:
        count = -(-total // most)
        base, extra = divmod(total, count)
        parts = [base + 1] * extra + [base] * (count - extra)
    else:
        full, rest = divmod(total, most)
        parts = [most] * full + ([rest] if rest else [])
    if bounds.minimum is not None:
        least = math.ceil(bounds.minimum / step)
        for i, part in enumerate(parts):
            if part >= least:
                continue
            if not policy.round_up_to_minimum:
                raise ExplosionRefused(
                    f"A work order of {_quantity(part * step, material)} {material.name} is "
                    f"below the minimum of {bounds.by_minimum}; allow rounding up to the "
                    "minimum, or change the quantity."
                )
            parts[i] = least
    return [material.rounded_up(part * step) for part in parts]


def _quantity(value: Fraction, material: Material[K]) -> str:
    return f"{material.rounded_up(value)} {material.unit}"


# --- the explosion -------------------------------------------------------------------------


def low_level_codes(
    roots: Iterable[K], recipes: Mapping[K, Recipe[K]], materials: Mapping[K, Material[K]]
) -> dict[K, int]:
    """The deepest level each item with a recipe appears at under `roots` (level 0), so that
    all its demand is known before it is exploded. Refuses a cycle, naming it."""
    uses = {item: [i.item for i in r.inputs if i.item in recipes] for item, r in recipes.items()}
    codes: dict[K, int] = {}
    for root in dict.fromkeys(roots):
        if root not in recipes:
            continue
        cycle = find_cycle(root, uses)
        if cycle is not None:
            raise ExplosionRefused(
                "A bill of material contains itself: " + cycle_text(cycle, materials)
            )
        stack = [(root, 0)]
        while stack:
            item, level = stack.pop()
            if codes.get(item, -1) >= level:
                continue
            codes[item] = level
            stack.extend((used, level + 1) for used in uses[item])
    return codes


def cycle_text(cycle: Sequence[K], materials: Mapping[K, Material[K]]) -> str:
    """A cycle in words: "Apple Juice -> Juice Blend -> Apple Juice"."""
    return " -> ".join(materials[item].name for item in cycle)


@dataclass
class _Ask:
    """Demand for an item: by a work order (its key) or by the order itself (`demand`)."""

    quantity: Fraction
    consumer: int | None = None
    demand: int | None = None


def _pegged(asks: Sequence[_Ask], parts: Sequence[Decimal]) -> list[range]:
    """For each ask, in order, the splits (indexes into `parts`) its share of the supply
    overlaps, the supply laid out in the order of `parts` (the output loss at the end)."""
    ends, supplied = [], Fraction(0)
    for part in parts:
        supplied += Fraction(part)
        ends.append(supplied)
    found, taken, first = [], Fraction(0), 0
    for ask in asks:  # both in order: one walk along the splits
        start, taken = taken, taken + ask.quantity
        while ends[first] <= start:
            first += 1
        last = first
        while ends[last] < taken:
            last += 1
        found.append(range(first, last + 1))
    return found


def explode(
    demands: Sequence[Demand[K]],
    recipes: Mapping[K, Recipe[K]],
    materials: Mapping[K, Material[K]],
    capacities: Mapping[K, Capacity[K]],
    policy: Policy = Policy(),
) -> list[PlannedWorkOrder[K]]:
    """The work orders that make `demands` by `recipes` (one per item that has one), level by
    level from the top: keys in that order, each work order's `depends_on` the ones that feed
    it. Materials without a recipe are requirements only (bought, not made)."""
    for d in demands:
        if d.item not in recipes:
            raise ExplosionRefused(f"{materials[d.item].name} has no active bill of material.")
        if d.quantity <= 0:
            raise ExplosionRefused(f"The quantity of {materials[d.item].name} must be above 0.")
    codes = low_level_codes((d.item for d in demands), recipes, materials)
    run = _Explosion(recipes, materials, capacities, policy)
    for i, d in enumerate(demands):
        run.asks[d.item].append(_Ask(Fraction(d.quantity), demand=i))
    # Level by level; within one, in the order the items were first asked for (an item only
    # asks for items of deeper levels, so a level's asks are all in before it starts).
    for level in sorted(set(codes.values())):
        for item in [i for i in run.asks if codes[i] == level]:
            run.plan(item, level)
    return [
        replace(wo, depends_on=tuple(dict.fromkeys(run.waits[wo.key])))
        if wo.key in run.waits
        else wo
        for wo in run.made
    ]


@dataclass
class _Explosion(Generic[K]):
    recipes: Mapping[K, Recipe[K]]
    materials: Mapping[K, Material[K]]
    capacities: Mapping[K, Capacity[K]]
    policy: Policy
    asks: dict[K, list[_Ask]] = field(default_factory=lambda: defaultdict(list))
    made: list[PlannedWorkOrder[K]] = field(default_factory=list)
    waits: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def plan(self, item: K, level: int) -> None:
        """All the demand for `item`: planned with its loss, split, pegged to who asked, and
        each split's materials asked of the items that are made."""
        recipe, material = self.recipes[item], self.materials[item]
        wanted = self.asks.pop(item)
        total = sum((a.quantity for a in wanted), Fraction(0))
        loss = 1 + Fraction(recipe.output_loss_percent) / HUNDRED
        bounds = limits(recipe, material, self.capacities)
        parts = split(material.rounded_up(total * loss), material, bounds, self.policy)
        first_key = len(self.made)
        delivers: dict[int, int] = {}
        for ask, splits in zip(wanted, _pegged(wanted, parts), strict=True):
            keys = [first_key + k for k in splits]
            if ask.consumer is not None:
                self.waits[ask.consumer].extend(keys)
            elif ask.demand is not None:
                for key in keys:
                    delivers.setdefault(key, ask.demand)
        batch = material.in_base(Fraction(recipe.batch_quantity), recipe.batch_unit)
        for part in parts:
            key = len(self.made)
            self.made.append(
                PlannedWorkOrder(
                    key=key,
                    item=item,
                    quantity=part,
                    unit=material.unit,
                    version=recipe.version,
                    level=level,
                    routing=recipe.routing,
                    materials=self._materials(recipe, Fraction(part) / batch, key),
                    depends_on=(),
                    demand=delivers.get(key),
                )
            )

    def _materials(
        self, recipe: Recipe[K], batches: Fraction, key: int
    ) -> tuple[Requirement[K], ...]:
        requirements = []
        for line in recipe.inputs:
            used = self.materials[line.item]
            per_batch = used.in_base(Fraction(line.quantity), line.unit)
            scrap = 1 + Fraction(line.loss_percent) / HUNDRED
            need = used.rounded_up(batches * per_batch * scrap)
            requirements.append(Requirement(line.line, line.item, need, used.unit))
            if line.item in self.recipes and need > 0:
                self.asks[line.item].append(_Ask(Fraction(need), consumer=key))
        return tuple(requirements)
