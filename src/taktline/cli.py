"""The `taktline` command: serve the API, migrate the database, load the demo, issue tokens,
schedule, import and export bills of material, trace lots.

Commands call services (and `taktline.migrate`), never routers. The database is
TAKTLINE_DATABASE_URL, read afresh by every command.
"""

import enum
import importlib.util
import os
import secrets
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic_core import PydanticCustomError
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session

from taktline import migrate, serving
from taktline.auth import service as auth_service
from taktline.auth.models import User
from taktline.boms import csv_format, exporting, importing
from taktline.boms import reading as bom_reading
from taktline.boms.models import BomType, VersionStatus
from taktline.boms.schemas import ImportOut
from taktline.config import Settings
from taktline.db import create_db_engine, create_session_factory
from taktline.demo import DEMO_ADMIN_EMAIL, DEMO_ORG, DEMO_USERS
from taktline.demo import load as load_demo
from taktline.errors import Problem, ValidationProblem
from taktline.idempotency import purge_expired
from taktline.inventory import genealogy, tracing
from taktline.inventory.schemas import TraceNode, TraceOut
from taktline.orgs.models import Organisation
from taktline.permissions import Role
from taktline.portal import security as portal_security
from taktline.scheduling import apply as schedule_apply
from taktline.scheduling import propose
from taktline.scheduling import report as schedule_report
from taktline.scheduling.schemas import MAX_TIME_LIMIT_SECONDS, ApplyRequest
from taktline.schemas import RANGE_MESSAGE, in_range
from taktline.solver.problem import Objective

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID
    from rich.table import Table
    from rich.tree import Tree

app = typer.Typer(
    help="Taktline: a production portal for contract manufacturers.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="Users of the portal.", no_args_is_help=True)
boms_app = typer.Typer(help="Bills of material: CSV import and export.", no_args_is_help=True)
lots_app = typer.Typer(help="Lots: their genealogy.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(boms_app, name="boms")
app.add_typer(lots_app, name="lots")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")]
Workers = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=64,
        help="Server processes (default: `up` one per core, `serve` one). They share the "
        "database; every rule that concurrent requests could race past is held by it.",
    ),
]


def _settings() -> Settings:
    # Not the cached get_settings(): every command reads the environment as it is now.
    return Settings()


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@contextmanager
def _session(database_url: str) -> Iterator[Session]:
    engine = create_db_engine(database_url)
    try:
        with create_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _require_migrated(database_url: str) -> None:
    current, head = migrate.current_revision(database_url), migrate.head_revision()
    if current != head:
        raise _fail(
            f"the database {_shown(database_url)} is at schema revision {current or 'none'}, "
            f"not {head}. Run `taktline db upgrade` first."
        )


def _migrate(database_url: str) -> None:
    typer.echo(f"Migrating {_shown(database_url)} to the newest schema...")
    migrate.upgrade(database_url)


def _serve(host: str, port: int, workers: int) -> None:
    typer.echo(f"Serving with {workers} worker process{'es' if workers > 1 else ''}.")
    serving.run(
        host=host,
        port=port,
        workers=workers,
        # The app trusts X-Forwarded-* only from TAKTLINE_FORWARDED_ALLOW_IPS (see app.py).
        proxy_headers=False,
    )


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = None) -> None:
    """Serve the API (and portal) on the configured database, as it is."""
    _serve(host, port, workers or 1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the configured database to the newest schema (a no-op when it is there)."""
    url = _settings().database_url
    _migrate(url)
    typer.echo(f"The database is at schema revision {migrate.current_revision(url)}.")


def _expires_at_option(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date and time") from None
    try:
        return auth_service.expiry_of(moment, None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _when(moment: datetime | None, never: str = "-") -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else never


@token_app.command("create")
def token_create(
    org: Annotated[str, typer.Option(help="Organisation name; created if missing.")],
    email: Annotated[str, typer.Option(help="The user's email; created if missing.")],
    role: Annotated[
        Role,
        typer.Option(
            case_sensitive=False, help="Role of a new user; an existing user keeps the role it has."
        ),
    ],
    expires_in_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=auth_service.MAX_EXPIRES_IN_DAYS,
            help="The token stops answering this many days from now.",
        ),
    ] = None,
    expires_at: Annotated[
        datetime | None,
        typer.Option(
            parser=_expires_at_option,
            metavar="ISO",
            help="The token stops answering at this time (ISO 8601 with an offset).",
        ),
    ] = None,
) -> None:
    """Create an API token, and the organisation and user if missing.

    The token never expires unless --expires-in-days or --expires-at says when. It is the
    last line of the output, shown this once only.
    """
    if expires_in_days is not None and expires_at is not None:
        raise typer.BadParameter(
            "give --expires-in-days or --expires-at, not both", param_hint="'--expires-at'"
        )
    expiry = auth_service.expiry_of(expires_at, expires_in_days)
    url = _settings().database_url
    _require_migrated(url)
    with _session(url) as session:
        try:
            organisation = auth_service.get_or_create_org(session, org)
            user = auth_service.get_or_create_user(session, organisation, email, role)
            issued = auth_service.issue_token(session, user, expires_at=expiry)
        except Problem as problem:
            raise _fail(problem.detail) from None
        expiry_text = f"expires {_when(expiry)}" if expiry else "never expires"
        typer.echo(
            f"A new API token for {user.email} ({user.role}) of {organisation.name}, id "
            f"{issued.view.token.id}, {expiry_text}:"
        )
    typer.echo(issued.secret)


@token_app.command("list")
def token_list(
    org: Annotated[str | None, typer.Option(help="Only this organisation's tokens.")] = None,
    email: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """List API tokens, oldest first: id, user, role, when created, expires and was last
    used (to the hour), and revoked. Never the tokens themselves."""
    url = _settings().database_url
    _require_migrated(url)
    with _session(url) as session:
        views = auth_service.list_all(session, org=org, email=email)
    if not views:
        typer.echo("No API tokens.")
        return
    header = (
        "id",
        "organisation",
        "user",
        "role",
        "state",
        "created",
        "expires",
        "last used",
        "revoked",
    )
    rows = [header] + [
        (
            str(v.token.id),
            v.organisation,
            v.user.email,
            v.user.role,
            v.state.value,
            _when(v.token.created_at),
            _when(v.token.expires_at, "never"),
            _when(v.token.last_used_at, "never"),
            _when(v.token.revoked_at),
        )
        for v in views
    ]
    widths = [max(len(row[n]) for row in rows) for n in range(len(header))]
    for row in rows:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (token list).")],
) -> None:
    """Revoke an API token: from then on it answers 401. Revoking it again changes nothing."""
    try:
        parsed = uuid.UUID(token_id)
    except ValueError:
        raise typer.BadParameter(f"{token_id!r} is not a token id", param_hint="'ID'") from None
    url = _settings().database_url
    _require_migrated(url)
    with _session(url) as session:
        try:
            view, revoked_now = auth_service.revoke(session, parsed)
        except Problem as problem:
            raise _fail(problem.detail) from None
    who = f"{view.user.email} of {view.organisation}"
    if revoked_now:
        typer.echo(f"Revoked the API token {view.token.id} ({view.token.prefix}...) of {who}.")
    else:
        typer.echo(
            f"The API token {view.token.id} of {who} was revoked already, "
            f"at {_when(view.token.revoked_at)}."
        )


@db_app.command("purge")
def db_purge() -> None:
    """Delete what may go: stored Idempotency-Key answers older than TAKTLINE_IDEMPOTENCY_TTL_HOURS,
    portal sign-in attempts older than 30 days and expired portal sessions.

    Run it daily (cron, a systemd timer) on one server; it never touches records or events.
    """
    settings = _settings()
    _require_migrated(settings.database_url)
    with _session(settings.database_url) as session:
        purged = purge_expired(session, settings.idempotency_ttl_hours)
        sign_in = portal_security.purge_expired(session)
    typer.echo(f"Purged {purged} expired Idempotency-Key answers.")
    typer.echo(
        f"Purged {sign_in.attempts} sign-in attempts older than "
        f"{portal_security.KNOWN_ADDRESS_WINDOW.days} days and {sign_in.sessions} expired "
        "sign-in sessions."
    )


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Option(help="The user's email.")],
) -> None:
    """Set a user's portal password, read from standard input (one line), never an argument.

    Signs the user out everywhere. Example: `printf '%s\\n' "$PASSWORD" | taktline user
    set-password --email planner@sunshine.example`
    """
    url = _settings().database_url
    _require_migrated(url)
    password = sys.stdin.readline().rstrip("\r\n")
    with _session(url) as session:
        try:
            user = portal_security.set_password(session, email, password)
        except Problem as problem:
            raise _fail(problem.detail) from None
    typer.echo(f"The password of {user.email} is set.")


@app.command()
def demo(
    org: Annotated[str, typer.Option(help="Organisation to load it into.")] = DEMO_ORG,
) -> None:
    """Migrate, then load the Sunshine Beverages demo (running it twice adds nothing)."""
    url = _settings().database_url
    _migrate(url)
    with _session(url) as session:
        organisation = load_demo(session, org)
        typer.echo(f"The demo is loaded into {organisation.name}.")


def _first_portal_password(session: Session) -> str | None:
    """A password for the demo users that have none yet (a fresh demo), or None.

    Generated, never a default: a demo left running on a network must not open to a
    password printed in the README."""
    emails = list(DEMO_USERS)
    without = session.scalars(
        select(User.email).where(User.email.in_(emails), User.password_hash.is_(None))
    ).all()
    if not without:
        return None
    password = secrets.token_urlsafe(9)
    for email in without:
        portal_security.set_password(session, email, password)
    return password


@app.command()
def up(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = None) -> None:
    """Migrate, load the demo if the database is empty (printing an admin token, once), serve.

    Everything needed to try Taktline in one command.
    """
    url = _settings().database_url
    _migrate(url)
    token: str | None = None
    with _session(url) as session:
        if session.scalar(select(Organisation.id).limit(1)) is None:
            typer.echo(f"The database is empty: loading the {DEMO_ORG} demo...")
            organisation = load_demo(session, DEMO_ORG)
            admin = auth_service.get_or_create_user(
                session, organisation, DEMO_ADMIN_EMAIL, Role.ADMIN
            )
            # A token only with the demo it is for: tokens are stored hashed, so it cannot
            # be shown again, and a later start makes none (`taktline token create` does).
            token = auth_service.create_token(session, admin)
        row = session.execute(
            select(User, Organisation.name)
            .join(Organisation, Organisation.id == User.org_id)
            .where(User.email == DEMO_ADMIN_EMAIL)
        ).first()
        portal_password = _first_portal_password(session)

    base = f"http://{host}:{port}"
    typer.echo("")
    typer.echo(f"Taktline is starting, on the database {_shown(url)}")
    if importlib.util.find_spec("taktline.portal") is not None:
        typer.echo(f"  Portal:    {base}/")
    typer.echo(f"  API docs:  {base}/docs")
    typer.echo(f"  API:       {base}/api/v1  (send `Authorization: Bearer <token>`)")
    if row is None:
        typer.echo("No demo admin in this database: create a token with `taktline token create`.")
    else:
        if portal_password is not None:
            typer.echo(
                f"Portal sign-in, shown this once: {', '.join(DEMO_USERS)} "
                f"with the password {portal_password}"
            )
        else:
            typer.echo(
                f"Portal sign-in: {', '.join(DEMO_USERS)} with the password shown at the first "
                "start (or set one: taktline user set-password --email EMAIL)."
            )
        if token is not None:
            typer.echo(f"An API token for {DEMO_ADMIN_EMAIL} (admin of {row[1]}), shown this once:")
            typer.echo(token)
        else:
            typer.echo(
                f"API tokens: the one shown at the first start, or a new one: taktline token "
                f'create --org "{row[1]}" --email {DEMO_ADMIN_EMAIL} --role admin '
                "(taktline token list shows them, taktline token revoke ID ends one)."
            )
    typer.echo("")
    _serve(host, port, workers or os.cpu_count() or 1)


class ObjectiveOption(enum.StrEnum):
    WEIGHTED_TARDINESS = "weighted-tardiness"
    MAKESPAN = "makespan"


def _acting_user(session: Session, org: str | None, email: str | None) -> User:
    """The user the schedule is made (and audited) as: `email`, or the first active admin
    (else planner) of the organisation, which may be left out when there is only one."""
    if email is not None:
        user = session.scalar(select(User).where(User.email == email.lower()))
        if user is None or not user.active:
            raise _fail(f"no active user {email}")
        return user
    orgs = session.scalars(select(Organisation).order_by(Organisation.name)).all()
    chosen = [o for o in orgs if org is None or o.name == org]
    if not chosen:
        raise _fail(f"no organisation named {org!r}" if org else "there is no organisation yet")
    if len(chosen) > 1:
        names = ", ".join(o.name for o in chosen)
        raise _fail(f"there are several organisations ({names}): choose one with --org")
    users = session.scalars(
        select(User).where(
            User.org_id == chosen[0].id, User.active.is_(True), User.role.in_(("admin", "planner"))
        )
    ).all()
    if not users:
        raise _fail(f"{chosen[0].name} has no active admin or planner to act as (see --as)")
    return sorted(users, key=lambda u: (u.role != "admin", u.email))[0]


@app.command("schedule")
def schedule_command(
    apply: Annotated[
        bool, typer.Option("--apply", help="Apply the proposal; without it nothing changes.")
    ] = False,
    time_limit: Annotated[
        float,
        typer.Option(
            "--time-limit",
            min=0.1,
            max=MAX_TIME_LIMIT_SECONDS,
            help=f"Seconds for the solver, at most {MAX_TIME_LIMIT_SECONDS}.",
        ),
    ] = 10.0,
    objective: Annotated[
        ObjectiveOption, typer.Option(case_sensitive=False, help="What to minimise.")
    ] = ObjectiveOption.WEIGHTED_TARDINESS,
    org: Annotated[
        str | None, typer.Option(help="Organisation name; needed when there are several.")
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="Email of the user to act as (default: the first admin)."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="Horizon start, ISO 8601 with an offset (default: now)."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Random seed of the solver.")] = 0,
) -> None:
    """Schedule all open work: DRAFT and SCHEDULED work orders that are not pinned, around
    work in process and pinned work, within calendars; show what moves and what is late.

    With --apply, the proposal is applied in one transaction (as `POST /schedule/apply`).
    """
    from rich.console import Console

    horizon: datetime | None = None
    if start is not None:
        try:
            horizon = datetime.fromisoformat(start)
        except ValueError:
            raise _fail(f"--start {start!r} is not an ISO 8601 date and time") from None
        if horizon.tzinfo is None:
            raise _fail("--start needs an offset, such as 2030-01-07T06:00:00-06:00")
        try:
            horizon = in_range(horizon)
        except PydanticCustomError:
            raise _fail(f"--start {start!r} {RANGE_MESSAGE}") from None
    url = _settings().database_url
    _require_migrated(url)
    console = Console() if sys.stdout.isatty() else Console(width=120)
    body = ApplyRequest(
        horizon_start=horizon,
        objective=Objective(objective.value.replace("-", "_")),
        time_limit_seconds=time_limit,
        seed=seed,
    )
    with _session(url) as session:
        actor = auth_service.actor_for_user(_acting_user(session, org, as_user))
        session.rollback()  # the solver must not hold the read transaction
        console.print(
            f"Scheduling the open work as {actor.email} ({actor.role}); "
            + ("applying it" if apply else "a preview, nothing changes"),
            highlight=False,
        )
        try:
            if apply:
                done = schedule_report.with_progress(
                    console, lambda progress: schedule_apply.apply(session, actor, body, progress)
                )
                proposal, applied = done.out.proposal, done.out
            else:
                seen = schedule_report.with_progress(
                    console, lambda progress: propose.preview(session, actor, body, progress)
                )
                proposal, applied = seen.out, None
        except Problem as problem:
            raise _fail(problem.detail) from None
    console.print(schedule_report.summary(proposal, applied))
    moved = schedule_report.moves(proposal)
    if moved is not None:
        console.print(moved)


# --- bills of material: CSV import and export -----------------------------------------------

OrgOption = Annotated[
    str | None, typer.Option(help="Organisation name; needed when there are several.")
]
AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Email of the user to act as (default: the first admin)."),
]


@contextmanager
def _import_progress(console: "Console") -> Iterator[importing.Progress]:
    """A bar per phase of the import on a terminal; one line per phase otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if not console.is_terminal:
        shown: set[str] = set()

        def lines(phase: str, done: int, total: int) -> None:
            if phase not in shown:
                shown.add(phase)
                console.print(f"{phase}...", highlight=False)

        yield lines
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


def _import_summary(out: ImportOut) -> "Table":
    from rich.table import Table

    title = "Bills of material " + (
        "the file would make (a dry run: nothing was written)" if out.dry_run else "imported"
    )
    table = Table(title=title)
    for column in ("BOM", "first row", "rows", "", "version", "inputs", "operations"):
        table.add_column(column, justify="right" if column in ("first row", "rows") else "left")
    for bom in out.boms:
        table.add_row(
            bom.code,
            str(bom.first_row),
            str(bom.rows),
            "new" if bom.created else "exists",
            f"{bom.version} (DRAFT)",
            str(bom.inputs),
            str(bom.operations),
        )
    return table


@boms_app.command("import")
def boms_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The CSV file (see docs/boms-csv.md)."
        ),
    ],
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Check the file and show what it would make; write nothing."
        ),
    ] = False,
    org: OrgOption = None,
    as_user: AsOption = None,
) -> None:
    """Import bills of material from a CSV file: a new BOM for each code the organisation does
    not have, a new DRAFT version of each one it has; all of the file, or nothing.

    Every error is shown with its row (the header is row 1) and column; the exit code is then 1.
    """
    from rich.console import Console

    if file.stat().st_size > csv_format.MAX_BYTES:
        raise _fail(
            f"{file} is larger than {csv_format.MAX_BYTES} bytes: split it into several files."
        )
    url = _settings().database_url
    _require_migrated(url)
    console = Console() if sys.stdout.isatty() else Console(width=120)
    data = file.read_bytes()
    with _session(url) as session:
        actor = auth_service.actor_for_user(_acting_user(session, org, as_user))
        console.print(
            f"Importing {file} as {actor.email} ({actor.role})"
            + (": a dry run, nothing is written" if dry_run else ""),
            highlight=False,
        )
        try:
            with _import_progress(console) as progress:
                out = importing.import_boms(
                    session, actor, data, dry_run=dry_run, progress=progress
                )
        except ValidationProblem as problem:
            errors = problem.extensions["errors"]
            typer.secho(f"Error: {problem.detail.split(':', 1)[0]}:", err=True, fg=typer.colors.RED)
            for error in errors:
                typer.echo(
                    f"  {error}"
                    if isinstance(error, csv_format.CellError)
                    else f"  {error['msg']}",
                    err=True,
                )
            raise typer.Exit(code=1) from None
        except Problem as problem:
            raise _fail(problem.detail) from None
    console.print(_import_summary(out))
    made = sum(b.created for b in out.boms)
    console.print(
        f"{'The file would make' if dry_run else 'Made'} {made} new bill"
        f"{'' if made == 1 else 's'} of material and {len(out.boms) - made} new version"
        f"{'' if len(out.boms) - made == 1 else 's'} of existing ones, from {out.rows} rows.",
        highlight=False,
    )


@boms_app.command("export")
def boms_export(
    file: Annotated[
        Path | None,
        typer.Argument(
            dir_okay=False, help="Where to write the CSV file; default: standard output."
        ),
    ] = None,
    status: Annotated[
        VersionStatus | None,
        typer.Option(
            case_sensitive=False,
            help="Only BOMs with a version in this status, with their newest one.",
        ),
    ] = None,
    type: Annotated[
        BomType | None, typer.Option(case_sensitive=False, help="Only BOMs of this type.")
    ] = None,
    org: OrgOption = None,
    as_user: AsOption = None,
) -> None:
    """Export bills of material as CSV, in the layout `taktline boms import` reads: each with
    its ACTIVE version, else its newest."""
    url = _settings().database_url
    _require_migrated(url)
    with _session(url) as session:
        actor = auth_service.actor_for_user(_acting_user(session, org, as_user))
        try:
            export = exporting.export_boms(
                session, actor, bom_reading.BomFilter(type=type, status=status)
            )
        except Problem as problem:
            raise _fail(problem.detail) from None
    if file is None:
        sys.stdout.write(export.text)
        return
    file.write_bytes(export.content)
    typer.echo(f"Exported {export.boms} bills of material to {file}.", err=True)


# --- lots: genealogy -------------------------------------------------------------------------


def _node_text(node: TraceNode, flow: str | None) -> str:
    """A line of the tree: the lot's code or the work order's number, what it is, and what
    flowed between it and the line above."""
    from rich.markup import escape

    parts = [f"[bold]{escape(node.label)}[/bold]"]
    if flow is not None:
        parts.append(escape(flow))
    what = f"{node.item_sku} {node.item_name}"
    if node.kind == "work_order":
        what = f"work order for {what}"
        if node.production_order_number:
            what += f", {node.production_order_number}"
    parts.append(escape(what))
    parts.append(escape(node.status))
    if node.owner_name:
        parts.append(escape(node.owner_name))
    if node.supplier:
        supplier = f"from {node.supplier}"
        if node.supplier_lot_code:
            supplier += f" (their lot {node.supplier_lot_code})"
        if node.receipt_reference:
            supplier += f", {node.receipt_reference}"
        parts.append(escape(supplier))
    return " · ".join(parts)


def _trace_tree(out: TraceOut) -> "Tree":
    """The genealogy as a tree from the traced lot, the way the trace runs. A node reached
    by more than one path is shown in full once; again, it says so (which also ends a cycle
    in the data)."""
    from rich.tree import Tree

    nodes = {n.id: n for n in out.nodes}
    edges = {(e.source, e.target): e for e in out.edges}
    nexts = genealogy.branches(out.lot_id, out.direction, edges)
    root = Tree(_node_text(nodes[out.lot_id], None))
    expanded: set[uuid.UUID] = set()
    stack: list[tuple[Tree, uuid.UUID]] = [(root, out.lot_id)]
    while stack:  # depth first, in the order printed: "above" is above
        branch, node_id = stack.pop()
        if node_id in expanded:
            branch.label = f"{branch.label} [dim](shown above)[/dim]"
            continue
        expanded.add(node_id)
        children = []
        for child in nexts.get(node_id, []):
            pair = (child, node_id) if out.direction == "backward" else (node_id, child)
            edge = edges[pair]
            verb = "used" if nodes[pair[0]].kind == "lot" else "made"
            flow = f"{verb} {genealogy.number(edge.quantity)} {edge.unit}"
            children.append((branch.add(_node_text(nodes[child], flow)), child))
        stack.extend(reversed(children))
    return root


@lots_app.command("trace")
def lots_trace(
    code: Annotated[str, typer.Argument(help="The lot's code.")],
    forward: Annotated[
        bool,
        typer.Option(
            "--forward", help="Everything the lot went into (a recall), not what went into it."
        ),
    ] = False,
    org: OrgOption = None,
    item: Annotated[
        str | None,
        typer.Option(
            "--item",
            metavar="SKU",
            help="The lot's item, where lots of several items have the code.",
        ),
    ] = None,
    as_user: AsOption = None,
) -> None:
    """Print a lot's genealogy as a tree: what went into it, down to the lots received and
    their suppliers; with --forward, every work order and lot it went into.

    Each line says how much a work order used of a lot, or made into it.

    The same genealogy as GET /api/v1/lots/{id}/trace.
    """
    from rich.console import Console

    url = _settings().database_url
    _require_migrated(url)
    # Piped or redirected, a line of the tree is never wrapped: one node, one line.
    console = Console() if sys.stdout.isatty() else Console(width=1000)
    with _session(url) as session:
        actor = auth_service.actor_for_user(_acting_user(session, org, as_user))
        try:
            lot_id = tracing.find_lot(session, actor, code, item)
            out = tracing.trace(session, actor, lot_id, "forward" if forward else "backward")
        except Problem as problem:
            raise _fail(problem.detail) from None
    console.print(_trace_tree(out), highlight=False)
