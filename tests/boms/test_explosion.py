"""The explosion of bills of material (taktline.boms.explosion), without a database: the demo's
juice and bottles by hand, each rule on its own, and random multi-level BOMs against a
brute-force reference that splits by subtraction and pegs unit by unit."""

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taktline.boms.explosion import (
    Capacity,
    Conversion,
    Demand,
    ExplosionRefused,
    Input,
    Material,
    Operation,
    Policy,
    Recipe,
    Split,
    explode,
    find_cycle,
    unit_mismatches,
)

D = Decimal

# --- the demo: 10,000 bottles of apple juice ---------------------------------------------------

JUICE = Material("juice", "Apple Juice", "gal", precision=3)
# A bottle holds 0.125 gal: the bottling line's gallons are bottles too.
BOTTLE = Material(
    "bottle16", "16oz Organic Apple Juice Bottle", "ea", 0, (Conversion("gal", D("0.125"), D(1)),)
)
MATERIALS = {
    m.id: m
    for m in (
        JUICE,
        BOTTLE,
        Material("concentrate", "Apple Juice Concentrate", "gal", 3),
        Material("water", "Filtered Water", "gal", 3, (Conversion("L", D("3.785"), D(1)),)),
        Material("ascorbic", "Ascorbic Acid", "kg", 3),
        Material("glass", "16oz Bottle", "ea"),
        Material("cap", "Cap", "ea"),
        Material("label", "Label", "ea"),
    )
}
CAPACITIES = {
    c.id: c
    for c in (
        Capacity("CP1", "CP1", D(0), D(1000), "gal"),
        Capacity("BL1", "BL1", D(0), D(1000), "gal"),
        Capacity("LAB1", "LAB1"),
        Capacity("CASE1", "CASE1"),
    )
}
JUICE_RECIPE = Recipe(
    "juice-v1",
    "juice",
    D(1000),
    "gal",
    inputs=(
        Input("j1", "concentrate", D(180), "gal"),
        Input("j2", "water", D(3104), "L"),  # 820.079... gal
        Input("j3", "ascorbic", D("0.5"), "kg"),
    ),
    routing=(Operation(1, "Pressing", "CP1", D(30), D("0.05")),),
)
BOTTLE_RECIPE = Recipe(
    "bottle-v1",
    "bottle16",
    D(1),
    "ea",
    inputs=(
        Input("b1", "juice", D("0.125"), "gal", D(2)),
        Input("b2", "glass", D(1), "ea"),
        Input("b3", "cap", D(1), "ea"),
        Input("b4", "label", D(1), "ea"),
    ),
    routing=(
        Operation(1, "Bottling", "BL1", D(30), D("0.01")),
        Operation(2, "Labeling", "LAB1", D(10), D("0.005")),
        Operation(3, "Casing", "CASE1", D(10), D("0.004")),
    ),
)
RECIPES = {r.item: r for r in (JUICE_RECIPE, BOTTLE_RECIPE)}


def test_ten_thousand_bottles_are_two_bottling_runs_fed_by_two_juice_batches() -> None:
    planned = explode([Demand("bottle16", D(10000))], RECIPES, MATERIALS, CAPACITIES)

    bottling, juice = planned[:2], planned[2:]
    # 1,000 gal a run on the bottling line: 8,000 bottles
    assert [(wo.item, wo.quantity, wo.level) for wo in bottling] == [
        ("bottle16", D(8000), 0),
        ("bottle16", D(2000), 0),
    ]
    assert [wo.demand for wo in bottling] == [0, 0]
    # 10,000 x 0.125 gal x 1.02 = 1,275 gal, in batches of at most 1,000 on the press
    assert [(wo.item, wo.quantity, wo.level) for wo in juice] == [
        ("juice", D(1000), 1),
        ("juice", D(275), 1),
    ]
    first, second = bottling
    assert first.materials[0].quantity == D(1020)
    assert second.materials[0].quantity == D(255)
    assert [(r.item, r.quantity) for r in first.materials[1:]] == [
        ("glass", D(8000)),
        ("cap", D(8000)),
        ("label", D(8000)),
    ]
    # the first run takes the first batch and 20 gal of the second; the second run the rest
    assert first.depends_on == (2, 3)
    assert second.depends_on == (3,)
    assert juice[0].depends_on == juice[1].depends_on == ()
    # inputs in another unit come out in the item's own: 3,104 L of water = 820.080 gal
    assert juice[0].materials[1].quantity == D("820.080")
    assert juice[1].materials[1].quantity == D("225.522")
    assert [op.name for op in first.routing] == ["Bottling", "Labeling", "Casing"]
    assert first.version == "bottle-v1"


def test_even_splits_are_as_many_as_needed_and_differ_by_at_most_one_step() -> None:
    planned = explode(
        [Demand("bottle16", D(10000))], RECIPES, MATERIALS, CAPACITIES, Policy(Split.EVEN)
    )

    assert [wo.quantity for wo in planned if wo.item == "bottle16"] == [D(5000), D(5000)]
    assert [wo.quantity for wo in planned if wo.item == "juice"] == [D("637.5"), D("637.5")]


def test_output_loss_is_planned_on_top_and_rounded_up_to_the_precision() -> None:
    lossy = {
        **RECIPES,
        "bottle16": Recipe(**{**BOTTLE_RECIPE.__dict__, "output_loss_percent": D("1.5")}),
    }

    (wo,) = [
        w
        for w in explode([Demand("bottle16", D(101))], lossy, MATERIALS, CAPACITIES)
        if w.level == 0
    ]

    assert wo.quantity == D(103)  # 101 x 1.015 = 102.515, a whole bottle more


def test_below_the_minimum_is_refused_unless_rounding_up_is_allowed() -> None:
    capacities = {**CAPACITIES, "CP1": Capacity("CP1", "CP1", D(300), D(1000), "gal")}

    with pytest.raises(
        ExplosionRefused, match=r"275 gal Apple Juice is below the minimum of CP1 \(300 gal\)"
    ):
        explode([Demand("bottle16", D(10000))], RECIPES, MATERIALS, capacities)
    planned = explode(
        [Demand("bottle16", D(10000))],
        RECIPES,
        MATERIALS,
        capacities,
        Policy(round_up_to_minimum=True),
    )
    assert [wo.quantity for wo in planned if wo.item == "juice"] == [D(1000), D(300)]


def test_demand_for_an_item_is_added_up_over_every_consumer_before_it_is_split() -> None:
    planned = explode(
        [Demand("bottle16", D(4000)), Demand("bottle16", D(4000)), Demand("juice", D(100))],
        RECIPES,
        MATERIALS,
        CAPACITIES,
    )

    juice = [wo for wo in planned if wo.item == "juice"]
    # 2 x 510 gal for the bottles and 100 gal sold as juice: 1,120 gal in two batches
    assert [wo.quantity for wo in juice] == [D(1000), D(120)]
    assert [wo.level for wo in juice] == [1, 1]  # at its deepest, below the bottles


def test_a_work_order_on_several_levels_is_exploded_at_its_deepest() -> None:
    case = Material("case", "Case of 24", "ea")
    materials = {**MATERIALS, "case": case}
    case_recipe = Recipe(
        "case-v1",
        "case",
        D(1),
        "ea",
        inputs=(Input("c1", "bottle16", D(24), "ea"), Input("c2", "juice", D(1), "gal")),
        routing=(Operation(1, "Case packing", "CASE1"),),
    )
    recipes = {**RECIPES, "case": case_recipe}

    planned = explode([Demand("case", D(10))], recipes, materials, CAPACITIES)

    # juice is used by the case (level 1) and by the bottle (level 2): planned once, at 2
    assert [(wo.item, wo.level) for wo in planned] == [("case", 0), ("bottle16", 1), ("juice", 2)]
    assert planned[2].quantity == D("40.600")  # 240 x 0.125 x 1.02 + 10 x 1
    assert planned[0].depends_on == (1, 2)


def test_a_bill_of_material_that_contains_itself_is_refused_naming_the_cycle() -> None:
    blend = Recipe(
        "blend-v1", "concentrate", D(1), "gal", inputs=(Input("x", "juice", D(1), "gal"),)
    )

    with pytest.raises(
        ExplosionRefused,
        match="contains itself: Apple Juice -> Apple Juice Concentrate -> Apple Juice",
    ):
        explode([Demand("juice", D(5))], {**RECIPES, "concentrate": blend}, MATERIALS, CAPACITIES)
    assert find_cycle("a", {"a": ["b"], "b": ["c"], "c": ["b"]}) == ["b", "c", "b"]
    assert find_cycle("a", {"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_an_item_without_an_active_bill_of_material_cannot_be_exploded() -> None:
    with pytest.raises(ExplosionRefused, match="Cap has no active bill of material"):
        explode([Demand("cap", D(5))], RECIPES, MATERIALS, CAPACITIES)


def test_units_that_do_not_fit_are_named_with_both_units() -> None:
    capacities = {**CAPACITIES, "CP1": Capacity("CP1", "CP1", D(0), D(1000), "kg")}
    recipe = Recipe(
        "juice-v2",
        "juice",
        D(1000),
        "gal",
        inputs=(Input("j1", "ascorbic", D(1), "lb"),),
        routing=JUICE_RECIPE.routing,
    )

    assert unit_mismatches(recipe, MATERIALS, capacities) == [
        "Input Ascorbic Acid is in lb, but Ascorbic Acid is counted in kg and declares no "
        "conversion from lb.",
        "Resource CP1 takes its capacity in kg, but this BOM is in gal.",
    ]
    assert unit_mismatches(JUICE_RECIPE, MATERIALS, CAPACITIES) == []
    # the bottle converts from gallons: the bottling line's capacity fits it
    assert unit_mismatches(BOTTLE_RECIPE, MATERIALS, CAPACITIES) == []


# --- random multi-level bills of material against a brute-force reference -------------------


@dataclass(frozen=True)
class Plant:
    recipes: dict[int, Recipe[int]]
    materials: dict[int, Material[int]]
    capacities: dict[int, Capacity[int]]
    demands: list[Demand[int]]
    policy: Policy


@st.composite
def plants(draw: st.DrawFn) -> Plant:
    """Items 0..n-1; item i's recipe uses only items above it (so there is no cycle); some
    items are bought. Small quantities, so that the reference can count unit by unit."""
    n = draw(st.integers(2, 6))
    materials = {}
    for i in range(n):
        conversions = (Conversion("half", D(2), D(1)),) if draw(st.booleans()) else ()
        materials[i] = Material(i, f"item {i}", "u", draw(st.sampled_from([0, 1])), conversions)
    capacities = {
        r: Capacity(
            r,
            f"R{r}",
            draw(st.sampled_from([None, D(0), D(1), D(2)])),
            draw(st.sampled_from([None, D(3), D(5), D("7.5"), D(12)])),
            "u",
        )
        for r in range(3)
    }
    recipes = {}
    for i in range(n - 1):
        if i > 0 and not draw(st.booleans()):
            continue
        used = draw(st.lists(st.integers(i + 1, n - 1), min_size=1, max_size=3, unique=True))
        inputs = tuple(
            Input(
                i * 100 + j,
                j,
                draw(st.sampled_from([D(1), D("0.5"), D(2), D(3)])),
                draw(st.sampled_from(["u", "half"] if materials[j].conversions else ["u"])),
                draw(st.sampled_from([D(0), D(5), D(10)])),
            )
            for j in used
        )
        steps = draw(st.lists(st.integers(0, 2), min_size=0, max_size=2))
        recipes[i] = Recipe(
            i * 10,
            i,
            draw(st.sampled_from([D(1), D(2), D(4)])),
            "u",
            draw(st.sampled_from([D(0), D(5)])),
            inputs,
            tuple(Operation(k + 1, f"op {k}", r) for k, r in enumerate(steps)),
        )
    demands = [
        Demand(item, D(draw(st.integers(1, 12))))
        for item in draw(st.lists(st.sampled_from(sorted(recipes)), min_size=1, max_size=3))
    ]
    policy = Policy(draw(st.sampled_from(list(Split))), draw(st.booleans()))
    return Plant(recipes, materials, capacities, demands, policy)


def _steps(quantity: Fraction | Decimal, precision: int) -> int:
    return math.ceil(Fraction(quantity) * Fraction(10) ** precision)


def _base(material: Material[int], quantity: Decimal, unit: str) -> Fraction:
    if unit == material.unit:
        return Fraction(quantity)
    (c,) = [c for c in material.conversions if c.unit == unit]
    return Fraction(quantity) * Fraction(c.base_quantity) / Fraction(c.quantity)


Row = tuple[int, int, tuple[int, ...], tuple[tuple[int, int], ...]]


def _depths(p: Plant) -> dict[int, int]:
    """The longest path from a demanded item to each item with a recipe, by walking every
    path."""
    deepest: dict[int, int] = {}

    def walk(item: int, depth: int) -> None:
        deepest[item] = max(deepest.get(item, 0), depth)
        for line in p.recipes[item].inputs:
            if line.item in p.recipes:
                walk(line.item, depth + 1)

    for d in p.demands:
        walk(d.item, 0)
    return deepest


@dataclass
class _Order:
    item: int
    steps: int
    needs: tuple[tuple[int, int], ...]
    fed_by: set[int] = field(default_factory=set)


def reference(p: Plant) -> list[Row]:
    """(item, quantity in steps, the keys it waits for, materials in steps) of every work
    order, found the slow way: levels by walking every path, splits by subtracting, pegging
    unit by unit."""
    depth = _depths(p)
    asks: dict[int, list[tuple[int | None, int]]] = {}  # item -> (consumer key, steps)
    for d in p.demands:
        asks.setdefault(d.item, []).append(
            (None, _steps(d.quantity, p.materials[d.item].precision))
        )
    orders: list[_Order] = []
    for level in range(max(depth.values()) + 1):
        for item in [i for i in list(asks) if depth[i] == level]:
            recipe, m = p.recipes[item], p.materials[item]
            unit = Fraction(1, 10**m.precision)
            wanted = asks.pop(item)
            total = sum(s for _, s in wanted) * unit
            planned = _steps(total * (1 + Fraction(recipe.output_loss_percent) / 100), m.precision)
            most = least = None
            for op in recipe.routing:
                c = p.capacities[op.resource]  # type: ignore[index]
                if c.maximum is not None:
                    cap = math.floor(Fraction(c.maximum) / unit)
                    most = cap if most is None else min(most, cap)
                if c.minimum:
                    low = math.ceil(Fraction(c.minimum) / unit)
                    least = low if least is None else max(least, low)
            if most is not None and least is not None and least > most:
                raise ExplosionRefused("no work order fits both")
            parts: list[int] = []
            if most is None:
                parts = [planned]
            elif p.policy.split is Split.FULL:
                left = planned
                while left > 0:
                    parts.append(min(most, left))
                    left -= parts[-1]
            else:
                count = 1
                while -(-planned // count) > most:
                    count += 1
                parts = [0] * count
                for k in range(planned):
                    parts[k % count] += 1
            if least is not None:
                if any(part < least for part in parts) and not p.policy.round_up_to_minimum:
                    raise ExplosionRefused("below the minimum")
                parts = [max(part, least) for part in parts]
            first = len(orders)
            owners = [first + k for k, part in enumerate(parts) for _ in range(part)]
            taken = 0
            for consumer, steps in wanted:
                fed = owners[taken : taken + steps]
                taken += steps
                if consumer is not None:
                    orders[consumer].fed_by |= set(fed)
            batch = Fraction(recipe.batch_quantity)
            for part in parts:
                key = len(orders)
                needs = []
                for line in recipe.inputs:
                    used = p.materials[line.item]
                    need = _steps(
                        part
                        * unit
                        / batch
                        * _base(used, line.quantity, line.unit)
                        * (1 + Fraction(line.loss_percent) / 100),
                        used.precision,
                    )
                    needs.append((line.item, need))
                    if line.item in p.recipes and need:
                        asks.setdefault(line.item, []).append((key, need))
                orders.append(_Order(item, part, tuple(needs)))
    assert not asks, "every item asked for is made"
    return [(o.item, o.steps, tuple(sorted(o.fed_by)), o.needs) for o in orders]


def _ours(p: Plant) -> list[Row]:
    planned = explode(p.demands, p.recipes, p.materials, p.capacities, p.policy)
    return [
        (
            wo.item,
            _steps(wo.quantity, p.materials[wo.item].precision),
            tuple(sorted(wo.depends_on)),
            tuple(
                (r.item, _steps(r.quantity, p.materials[r.item].precision)) for r in wo.materials
            ),
        )
        for wo in planned
    ]


@settings(max_examples=300, deadline=None)
@given(plants())
def test_random_bills_of_material_explode_as_the_brute_force_reference_does(p: Plant) -> None:
    try:
        expected = reference(p)
    except ExplosionRefused:
        with pytest.raises(ExplosionRefused):
            _ours(p)
        return

    assert _ours(p) == expected
