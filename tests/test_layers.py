"""Layers: data flows one way, adapter -> use case -> rules and records, and the pure rules
stay pure. Read from the source (the `import` statements of every module under
src/taktline, parsed, not run), so that a wrong import fails here, naming the module, its
line and what it imports, before it shapes the code around it.

- The solver (taktline.solver) imports nothing of taktline but itself.
- The pure rule modules (PURE) import no database, web framework or templating, and of
  taktline only other pure modules: they are tested without a database.
- Records and use cases (everything but the adapters) import no adapter: nothing of
  taktline.api, taktline.portal, taktline.cli, taktline.app, or any `*.router` module.
- The API (taktline.api and the `*.router` modules) imports nothing of the portal, and the
  portal nothing of the API. Calendars may use taktline.solver.calendar; the solver never
  uses calendars (the first rule).
"""

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# The modules of rules that need no database, besides every module of taktline.solver; a
# module whose docstring says it is pure belongs here.
PURE = frozenset(
    {
        "taktline.boms.csv_format",
        "taktline.boms.explosion",
        "taktline.errors",
        "taktline.inventory.genealogy",
        "taktline.inventory.kinds",
        "taktline.inventory.rules",
        "taktline.items.kinds",
        "taktline.orders.lifecycle",
        "taktline.orders.quantities",
        "taktline.permissions",
        "taktline.portal.charts",
        "taktline.resources.capacity",
    }
)
# What a pure module may not import: the database, the web, settings, templates.
IMPURE_PACKAGES = (
    "alembic",
    "fastapi",
    "jinja2",
    "psycopg",
    "pydantic_settings",
    "sqlalchemy",
    "starlette",
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    target: str  # the module imported, or the module a name is imported from

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module under src/taktline, by its dotted name."""
    return {_module_name(p): p for p in sorted((SRC / "taktline").rglob("*.py"))}


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..orders import models
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from taktline import records` imports the module taktline.records.
                submodule = f"{base}.{alias.name}"
                yield Import(module, node.lineno, submodule if submodule in modules() else base)


@cache
def imports() -> tuple[Import, ...]:
    return tuple(imp for name, path in modules().items() for imp in _imports_of(name, path))


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def is_pure(module: str) -> bool:
    return module in PURE or _within(module, "taktline.solver")


def is_router(module: str) -> bool:
    name = module.rpartition(".")[2]
    return name == "router" or name.endswith("_router")


def is_api(module: str) -> bool:
    # The portal's own router is the portal's.
    return _within(module, "taktline.api") or (is_router(module) and not is_portal(module))


def is_portal(module: str) -> bool:
    return _within(module, "taktline.portal")


def is_adapter(module: str) -> bool:
    return (
        is_api(module)
        or is_portal(module)
        or _within(module, "taktline.cli")
        or module == "taktline.app"
    )


def _violations(importer: Callable[[str], bool], target: Callable[[str], bool]) -> list[str]:
    found = (str(imp) for imp in imports() if importer(imp.module) and target(imp.target))
    return list(dict.fromkeys(found))  # `from x import a, b` is one import


def _fail_message(rule: str, found: list[str]) -> str:
    return f"{rule}:\n  " + "\n  ".join(found)


def test_the_scan_reads_every_module_and_its_imports() -> None:
    # A scan that found nothing would pass every rule below.
    assert {"taktline.app", "taktline.solver.problem", "taktline.permissions"} <= set(modules())
    assert "taktline.app (line" in "".join(
        str(imp) for imp in imports() if imp.target == "taktline.items.router"
    )
    assert any(
        imp.module == "taktline.permissions" and imp.target == "taktline.errors"
        for imp in imports()
    )
    gone = sorted(PURE - set(modules()))
    assert gone == [], f"{gone} of PURE are gone: update the list"


def test_the_solver_imports_nothing_of_taktline_but_itself() -> None:
    found = _violations(
        lambda m: _within(m, "taktline.solver"),
        lambda t: _within(t, "taktline") and not _within(t, "taktline.solver"),
    )

    assert found == [], _fail_message("The solver imports taktline outside taktline.solver", found)


def test_pure_rule_modules_import_no_database_web_or_templates() -> None:
    found = _violations(
        is_pure, lambda t: any(_within(t, package) for package in IMPURE_PACKAGES)
    ) + _violations(is_pure, lambda t: _within(t, "taktline") and not is_pure(t))

    assert found == [], _fail_message(
        "A pure rule module imports the database, the web, settings, templates, or a "
        "module of taktline that is not pure",
        found,
    )


def test_records_and_use_cases_import_no_adapter() -> None:
    found = _violations(lambda m: not is_adapter(m), is_adapter)

    assert found == [], _fail_message(
        "A record or use case module imports an adapter (taktline.api, taktline.portal, "
        "taktline.cli, taktline.app or a router)",
        found,
    )


def test_the_api_imports_nothing_of_the_portal() -> None:
    found = _violations(is_api, is_portal)

    assert found == [], _fail_message("The API imports the portal", found)


def test_the_portal_imports_nothing_of_the_api() -> None:
    found = _violations(is_portal, is_api)

    assert found == [], _fail_message("The portal imports the API", found)
