"""From a posted form to the body a use case takes, and its errors back in the form's words.

Every form of the portal goes one way: `body_of` turns its fields (rows renumbered as they
are shown, empty inputs left out, local times on the plant's clock, numbers and ticks typed)
into the JSON body the API would receive; `validated` checks it with the API's own schema;
`read_version` reads its hidden version through taktline.http. A refused form comes back
through `form_errors`: each field error named as the form labels the field, in plain words.
The query of a list page goes through `Filters`, and its errors through the same words.
"""

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams

from taktline.errors import FieldError, Problem, ValidationProblem
from taktline.http import checked, decode_cursor, field_errors_of, parse_version
from taktline.orders.lifecycle import State
from taktline.schemas import day_in_range, refuse_nul

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# --- from posted fields to a body ------------------------------------------------------------


def read_version(fields: dict[str, str]) -> int | None:
    """The version the form was rendered at (its hidden `version`, taken out of `fields`), as
    the API's If-Match: a malformed one is refused, never skipping the optimistic lock."""
    return parse_version(fields.pop("version", None), ["form", "version"])


def _unknown(name: str) -> ValidationProblem:
    return ValidationProblem([FieldError(["body", name], "unknown field", "extra_forbidden")])


def renumbered(fields: Mapping[str, str]) -> dict[str, str]:
    """The filled-in fields of a form, its rows renumbered 0, 1, 2... in their order.

    A blank row (every field empty: the spare row of a form, or one left unused) is no row at
    all, and the rows after it move up, so that the positions in the validation errors are
    the positions of the rows shown again.
    """
    tree: dict[str, Any] = {}
    for name, raw in fields.items():
        value = raw.strip()
        if not value:
            continue
        *path, last = name.split(".")
        parts = (*path, last)
        # A form's own fields have names; rows are numbered inside them, in ASCII digits.
        if parts[0].isdigit() or any(p.isdigit() and not p.isascii() for p in parts):
            raise _unknown(name)
        node = tree
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise _unknown(name)
            node = child
        if isinstance(node.get(last), dict):
            raise _unknown(name)
        node[last] = value
    flat: dict[str, str] = {}
    _flatten(tree, "", flat)
    return flat


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, str]) -> None:
    if node and all(k.isdecimal() for k in node):
        node = {str(i): node[k] for i, k in enumerate(sorted(node, key=int))}
    for key, value in node.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", out)
        else:
            out[f"{prefix}{key}"] = value


def kept(fields: Mapping[str, str]) -> dict[str, str]:
    """What was typed, to show again: its rows renumbered as the errors number them."""
    try:
        return renumbered(fields)
    except ValidationProblem:
        return {k: v for k, v in fields.items() if "." not in k}


_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def on_plant_clock(text: str, zone: ZoneInfo) -> str:
    """A datetime-local input (no zone) as the instant it is on the plant's clock, in UTC.

    Not a real date and time ("2031-02-30T08:00"): left as typed, for the schema to refuse.
    Past what a datetime holds once in UTC (year 9999 west of UTC, year 1 east of it): read
    as UTC, which is as far outside the range, so that it is refused as outside the range.
    """
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        return text
    try:
        return local.replace(tzinfo=zone).astimezone(UTC).isoformat()
    except OverflowError:
        return local.replace(tzinfo=UTC).isoformat()


def unflatten(fields: Mapping[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """Fields named like `work_orders.0.line_items.1.operation` as nested data.

    Empty inputs are left out, so that optional fields take their defaults and required ones
    are reported missing. A datetime-local input (no zone) is a time on the plant's clock.
    """
    root: dict[Any, Any] = {}
    for name, raw in fields.items():
        value = raw.strip()
        if not value:
            continue
        if _LOCAL_DATETIME.match(value):
            value = on_plant_clock(value, zone)
        *path, last = [int(p) if p.isdigit() else p for p in name.split(".")]
        node = root
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return _lists(root)  # type: ignore[no-any-return]


def _lists(node: Any) -> Any:
    """Dicts numbered 0, 1, 3... (rows of a form, some removed) become lists in that order."""
    if isinstance(node, dict):
        if node and all(isinstance(k, int) for k in node):
            return [_lists(node[k]) for k in sorted(node)]
        return {k: _lists(v) for k, v in node.items()}
    return node


# Fields a JSON body carries as numbers or booleans; a form sends every value as text.
INTEGER_FIELDS = frozenset({"priority", "sequence", "copy_of"})
_FLAGS = {"true": True, "on": True, "1": True, "false": False, "0": False}
BOOLEAN_FIELDS: dict[str, dict[str, bool]] = {
    "done": _FLAGS,
    "interruptible": _FLAGS,
    "round_up_to_minimum": _FLAGS,
}
_INTEGER = re.compile(r"[+-]?\d{1,9}")


def typed(node: Any) -> Any:
    """The values of integer and boolean fields as a JSON body would carry them: "70" is 70
    and a ticked checkbox is true. Anything else stays text, for the schema to judge."""
    if isinstance(node, list):
        return [typed(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[Any, Any] = {}
    for key, value in node.items():
        if isinstance(value, str) and key in INTEGER_FIELDS and _INTEGER.fullmatch(value):
            out[key] = int(value)
        elif isinstance(value, str) and key in BOOLEAN_FIELDS:
            out[key] = BOOLEAN_FIELDS[key].get(value.lower(), value)
        else:
            out[key] = typed(value)
    return out


def body_of(fields: Mapping[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """A posted form as the JSON body the API's schema validates."""
    return typed(unflatten(renumbered(fields), zone))  # type: ignore[no-any-return]


def patch_body(
    fields: Mapping[str, str], zone: ZoneInfo, nullable: Iterable[str]
) -> dict[str, Any]:
    """An edit form as a PATCH body: an emptied optional field is cleared (null)."""
    data = body_of(fields, zone)
    for name in nullable:
        if name in fields and not fields[name].strip():
            data[name] = None
    return data


def blank_required(fields: Mapping[str, str], names: Iterable[str]) -> list[FieldError]:
    """A required field emptied on an edit form: "field required", as a create would say."""
    return [
        FieldError(["body", name], "field required", "missing")
        for name in names
        if name in fields and not fields[name].strip()
    ]


def validated(schema: type[M], data: Any, extra: Sequence[FieldError] = ()) -> M:
    """`data` validated by the API's schema; its errors (and `extra` ones) as one problem,
    each at `["body", ...]`, where the API would put it."""
    try:
        body = schema.model_validate(data)
    except ValidationError as exc:
        found = [
            FieldError(["body", *e["loc"]], e["msg"], e["type"])
            for e in field_errors_of(exc.errors(include_url=False))
        ]
        raise ValidationProblem([*extra, *found]) from None
    if extra:
        raise ValidationProblem(list(extra))
    return body


def parse(schema: type[M] | None, fields: Mapping[str, str], zone: ZoneInfo) -> M | None:
    """A form's body in `schema`; without a schema, a form that must carry nothing else."""
    data = body_of(fields, zone)
    if schema is None:
        if data:
            raise ValidationProblem(
                [FieldError(["body", k], "unknown field", "extra_forbidden") for k in data]
            )
        return None
    return validated(schema, data)


def count_rows(values: Mapping[str, str], prefix: str) -> int:
    """How many rows `prefix` + "N." has among renumbered fields."""
    rows = {
        int(name[len(prefix) :].split(".", 1)[0])
        for name in values
        if name.startswith(prefix) and name[len(prefix) :].split(".", 1)[0].isdecimal()
    }
    return max(rows) + 1 if rows else 0


# --- errors in the form's words ------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    """What a form calls its fields (by their last name part, in lower case), its rows (by
    the list's name), and which field of a row names it ("line item 2 (Labeling)")."""

    fields: Mapping[str, str]
    rows: Mapping[str, str] = field(default_factory=dict)
    titles: Mapping[str, str] = field(default_factory=dict)

    def but(self, **fields: str) -> "Labels":
        return Labels({**self.fields, **fields}, self.rows, self.titles)

    def of(self, name: str) -> str:
        return self.fields.get(name, name.replace("_", " "))


# The labels of the order forms; the other forms change a few.
LABELS = Labels(
    fields={
        "production_order_id": "production order",
        "owner_id": "owner (customer)",
        "reference": "customer reference",
        "due_date": "due",
        "item_id": "item",
        "resource_id": "resource",
        "setup_minutes": "setup minutes",
        "run_minutes_per_unit": "run minutes per unit",
        "planned_start": "planned start",
        "planned_end": "planned end",
        "quantity_produced": "produced",
        "quantity_completed": "completed",
        "quantity_scrapped": "scrapped",
        "version": "form's version",
        "plan": "schedule to apply",
    },
    rows={
        "items": "item row",
        "work_orders": "work order",
        "line_items": "line item",
        "alternatives": "alternative resource",
    },
    titles={"line_items": "operation"},
)


def _number(msg: str) -> str:
    found = re.search(r"-?\d+(?:\.\d+)?", msg)
    return found.group(0) if found else ""


def _rows(msg: str) -> str:
    n = _number(msg)
    return f"{n} row" if n == "1" else f"{n} rows"


# Pydantic's error types in plain words: each a predicate of the field ("must be 0 or more").
_PLAIN: dict[str, Callable[[str], str]] = {
    "missing": lambda m: "is required",
    "greater_than": lambda m: f"must be more than {_number(m)}",
    "greater_than_equal": lambda m: f"must be {_number(m)} or more",
    "less_than": lambda m: f"must be less than {_number(m)}",
    "less_than_equal": lambda m: f"must be {_number(m)} or less",
    "decimal_parsing": lambda m: "must be a number",
    "decimal_type": lambda m: "must be a number",
    "float_parsing": lambda m: "must be a number",
    "finite_number": lambda m: "must be a number",
    "int_parsing": lambda m: "must be a whole number",
    "int_type": lambda m: "must be a whole number",
    "int_from_float": lambda m: "must be a whole number",
    "decimal_max_digits": lambda m: f"must have at most {_number(m)} digits",
    "decimal_max_places": lambda m: f"must have at most {_number(m)} decimal places",
    "decimal_whole_digits": lambda m: f"must have at most {_number(m)} digits before the point",
    "datetime_parsing": lambda m: "must be a date and time",
    "datetime_from_date_parsing": lambda m: "must be a date and time",
    "datetime_type": lambda m: "must be a date and time",
    "timezone_aware": lambda m: "must be a date and time",
    "date_parsing": lambda m: "must be a date",
    "date_from_datetime_parsing": lambda m: "must be a date",
    "uuid_parsing": lambda m: "must be one of the choices",
    "uuid_type": lambda m: "must be one of the choices",
    "string_too_short": lambda m: (
        "is required" if _number(m) == "1" else f"must be at least {_number(m)} characters"
    ),
    "string_too_long": lambda m: f"must be at most {_number(m)} characters",
    "too_short": lambda m: f"must have at least {_rows(m)}",
    "too_long": lambda m: f"must have at most {_rows(m)}",
    "bool_parsing": lambda m: "must be ticked or not",
    "bool_type": lambda m: "must be ticked or not",
    "string_type": lambda m: "must be text",
    "json_invalid": lambda m: "could not be read",
}
# Prefixes pydantic puts before the message of a validator of ours.
_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain(msg: str, kind: str) -> tuple[str, bool]:
    """A field error's message in plain words, and whether it is a predicate of the field
    ("must be 0 or more", said after the field's name) or a statement of its own."""
    if kind in _PLAIN:
        return _PLAIN[kind](msg), True
    for prefix in _PREFIXES:
        msg = msg.removeprefix(prefix)
    if msg.startswith("Input should "):
        return "must " + msg.removeprefix("Input should "), True
    # Our own rules mostly say what the field must be already: "must be after planned_from".
    return msg, msg.startswith(("must ", "is "))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class FormErrors:
    """A refused form's messages: next to each field (`fields`, by field name), and in a
    summary of sentences that each name the field in full (`summary`: name, sentence)."""

    fields: dict[str, str]
    summary: list[tuple[str, str]]
    detail: str
    """One line for the whole problem: its sentences, or its own detail when it names none."""


def form_errors(
    problem: Problem | None, labels: Labels = LABELS, values: Mapping[str, str] | None = None
) -> FormErrors:
    """The problem's field errors in the form's words: "Work order 1, line item 1 (Bottling):
    setup minutes must be 0 or more". `values` (what was posted) names the rows."""
    if problem is None:
        return FormErrors({}, [], "")
    values = values or {}
    by_field: dict[str, str] = {}
    summary: list[tuple[str, str]] = []
    for err in problem.extensions.get("errors", []):
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] in ("body", "form", "query"):
            loc = loc[1:]
        message, predicate = plain(str(err["msg"]), str(err.get("type", "")))
        rows: list[str] = []
        name: str | None = None
        i = 0
        while i < len(loc):
            if i + 1 < len(loc) and loc[i + 1].isdecimal():
                row = f"{labels.rows.get(loc[i], labels.of(loc[i]))} {int(loc[i + 1]) + 1}"
                title = labels.titles.get(loc[i])
                named = values.get(".".join([*loc[: i + 2], title])) if title else None
                rows.append(f"{row} ({named})" if named else row)
                i += 2
            else:
                name = loc[-1]
                break
        where = ", ".join(rows)
        if name is None:
            at_field = message
            sentence = f"{_capital(where)}: {message}" if where else message
        elif predicate:
            said = f"{labels.of(name)} {message}"
            at_field = _capital(said)
            sentence = _capital(f"{where}: {said}" if where else said)
        else:
            at_field = message
            said = f"{labels.of(name)}: {message}"
            sentence = _capital(f"{where}, {said}" if where else said)
        key = ".".join(loc)
        by_field.setdefault(key, at_field)
        summary.append((key, sentence))
    detail = "; ".join(s for _, s in summary) if summary else problem.detail
    return FormErrors(by_field, summary, detail)


# --- the query of a list page --------------------------------------------------------------

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
FILTER_LABELS = Labels(
    {
        "owner_id": "owner",
        "due_before": "due before",
        "q": "search",
        "limit": "rows per page",
        "cursor": "page",
        "resource_id": "resource",
        "production_order": "production order",
        "planned_from": "planned from",
        "planned_to": "planned until",
        "item_id": "item",
        "type": "type",
        "status": "status",
        "version": "version",
        "against": "compared with",
        "split": "splits",
        "round_up_to_minimum": "round up to the minimum",
    }
)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Filters:
    """The query of a list page, parsed leniently: a bad value is a message beside its field."""

    def __init__(self, params: QueryParams, zone: ZoneInfo) -> None:
        self.params = params
        self.zone = zone
        self.errors: list[FieldError] = []
        self.raw: dict[str, str] = {}

    def refuse(self, name: str, msg: str, kind: str = "value_error") -> None:
        self.errors.append(FieldError(["query", name], msg, kind))

    def refused(self, problem: ValidationProblem) -> None:
        self.errors.extend(problem.extensions.get("errors", []))

    def messages(self) -> FormErrors:
        return form_errors(
            ValidationProblem(self.errors) if self.errors else None, FILTER_LABELS, self.raw
        )

    def _checked(self, check: Callable[[T], T], value: T, name: str) -> T | None:
        """`value` through a check of taktline.schemas; refused, a message beside `name`."""
        try:
            return checked(check, value, ["query", name])
        except ValidationProblem as problem:
            self.refused(problem)
            return None

    def text(self, name: str, max_length: int = 200) -> str | None:
        value = self.params.get(name, "").strip()
        self.raw[name] = value
        if len(value) > max_length:
            self.refuse(name, f"must be at most {max_length} characters")
            return None
        return self._checked(refuse_nul, value, name) or None

    def states(self) -> list[State]:
        chosen = self.params.getlist("state")
        bad = [s for s in chosen if s not in tuple(State)]
        if bad:
            self.refuse("state", f"not a state: {', '.join(bad)}")
        return [State(s) for s in chosen if s in tuple(State)]

    def choice(self, name: str, choices: Iterable[str]) -> str | None:
        """One of `choices` (an enum's values), or None when left empty."""
        value = self.text(name)
        if value is None:
            return None
        if value not in tuple(choices):
            self.refuse(name, "must be one of the choices")
            return None
        return value

    def whole(self, name: str) -> int | None:
        """A whole number of 1 or more (a version number), or None when left empty."""
        value = self.text(name, 9)
        if value is None:
            return None
        if not (value.isascii() and value.isdecimal()) or int(value) < 1:
            self.refuse(name, "must be a whole number of 1 or more")
            return None
        return int(value)

    def ident(self, name: str) -> uuid.UUID | None:
        value = self.text(name)
        if value is None:
            return None
        if not is_uuid(value):
            self.refuse(name, "must be one of the choices")
            return None
        return uuid.UUID(value)

    def day(self, name: str, *, end: bool = False) -> datetime | None:
        """A date input as the start of that day on the plant's clock (the end, with `end`)."""
        value = self.text(name)
        if value is None:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            self.refuse(name, "must be a date (YYYY-MM-DD)")
            return None
        if self._checked(day_in_range, day, name) is None:
            return None
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), tzinfo=self.zone)

    def page(self, cursor_name: str = "cursor") -> tuple[uuid.UUID | None, int]:
        limit_raw = self.params.get("limit", "")
        limit = PAGE_SIZE
        if limit_raw:
            if limit_raw.isdecimal() and 1 <= int(limit_raw) <= MAX_PAGE_SIZE:
                limit = int(limit_raw)
            else:
                self.refuse("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
        try:
            after = decode_cursor(self.params.get(cursor_name) or None)
        except ValidationProblem as problem:
            self.refused(problem)
            after = None
        return after, limit

    def _query(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.params.multi_items() if k != "cursor" and v]

    def next_url(self, path: str, next_cursor: str | None) -> str | None:
        """The next page of the same list: the same filters, from `next_cursor`."""
        if next_cursor is None:
            return None
        return f"{path}?{urlencode([*self._query(), ('cursor', next_cursor)])}"

    def first_url(self, path: str) -> str | None:
        """The first page of the same list, when this is a later one."""
        if not self.params.get("cursor"):
            return None
        query = self._query()
        return f"{path}?{urlencode(query)}" if query else path
