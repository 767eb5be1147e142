"""What keeps the scheduler from taking the servers down (issue 8): only planners and admins
solve, for at most MAX_TIME_LIMIT_SECONDS, and an organisation solves one schedule at a
time (another organisation is not held up); the solve holds no database transaction, and
its slot is free again however it ends.

The solves that must be under way while something else happens are held inside the solver
call (`SolveGate`), so that nothing here waits for a time limit.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from taktline.scheduling import propose, solving
from taktline.scheduling.schemas import MAX_TIME_LIMIT_SECONDS, ScheduleRequest
from taktline.solver.problem import Proposal
from taktline.solver.solve import solve
from tests.helpers import API, Tenant, assert_problem, db_counts, error_fields
from tests.scheduling.shop import BUSY, H0, WAIT, Shop, SolveGate, gated_solves, ok


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[SolveGate]:
    with gated_solves(monkeypatch) as held:
        yield held


def _one_work_order(client: TestClient, tenant: Tenant) -> Shop:
    shop = Shop.open(client, tenant)
    shop.work_order([shop.line(shop.resource(), 60)])
    return shop


def _advisory_locks(engine: Engine) -> int:
    """Advisory locks held on this database (pg_locks spans the server)."""
    query = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with engine.connect() as conn:
        return int(conn.scalar(text(query)) or 0)


def _idle_in_transaction(engine: Engine) -> int:
    """Connections to this database, other than this one, inside a transaction and idle."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                )
            )
            or 0
        )


# --- who, and for how long -----------------------------------------------------------------


def test_viewers_and_operators_get_403_on_a_preview_and_nothing_is_solved(
    client: TestClient, tenant: Tenant, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = _one_work_order(client, tenant)
    solved: list[object] = []
    real = solve

    def counted(*args: Any, **kwargs: Any) -> Proposal:
        solved.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(propose, "solve", counted)
    before = db_counts(app.state.engine)

    for role in ("viewer", "operator"):
        for path in ("/schedule/preview", "/schedule/apply"):
            refused = shop.request("POST", path, {"time_limit_seconds": 1}, role=role)
            problem = assert_problem(refused, 403, "forbidden")
            assert problem["detail"].startswith(f"The {role} role may not ")

    assert solved == []
    assert db_counts(app.state.engine) == before
    for role in ("planner", "admin"):
        assert shop.preview(role=role)["summary"]["work_orders"] == 1
    assert len(solved) == 2


def test_a_time_limit_above_the_cap_is_a_422_naming_time_limit_seconds(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)  # no work: the cap itself is accepted without a solve

    for path in ("/schedule/preview", "/schedule/apply"):
        for too_long in (MAX_TIME_LIMIT_SECONDS + 1, MAX_TIME_LIMIT_SECONDS + 0.5, 300):
            problem = assert_problem(
                shop.request("POST", path, {"time_limit_seconds": too_long}),
                422,
                "validation-error",
            )
            assert error_fields(problem) == ["body.time_limit_seconds"], problem
            assert str(MAX_TIME_LIMIT_SECONDS) in problem["detail"]

    assert MAX_TIME_LIMIT_SECONDS == 60
    assert shop.preview(time_limit_seconds=MAX_TIME_LIMIT_SECONDS)["time_limit_seconds"] == 60


# --- one solve per organisation at a time ----------------------------------------------------


def test_a_second_solve_of_the_organisation_is_refused_while_another_organisation_solves(
    app: FastAPI, client: TestClient, tenant: Tenant, other_tenant: Tenant, gate: SolveGate
) -> None:
    """Two sessions of the service, as two requests would be: the first holds its solve; a
    second of the same organisation is refused at once, one of another organisation is
    solved meanwhile, and once the first ends its organisation may solve again. The held
    solve has no transaction open (on SQLite the other organisation's read would otherwise
    wait for the write lock)."""
    _one_work_order(client, tenant)
    _one_work_order(client, other_tenant)
    factory = app.state.session_factory
    sessions: dict[str, Session] = {}

    def preview(who: Tenant, name: str) -> propose.Preview:
        with factory() as session:
            sessions[name] = session
            body = ScheduleRequest(horizon_start=H0, time_limit_seconds=1)
            return propose.preview(session, who.actor("planner"), body)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(preview, tenant, "first")
        assert gate.solving.wait(WAIT)

        assert not sessions["first"].in_transaction()
        with pytest.raises(solving.SolverBusy) as refused:
            preview(tenant, "second")
        theirs = preview(other_tenant, "theirs")
        assert not first.done()
        gate.release.set()
        mine = first.result(WAIT)

    problem = refused.value
    assert (problem.status, problem.detail) == (429, BUSY)
    assert problem.to_body()["retry_after_seconds"] == solving.RETRY_AFTER_SECONDS
    assert theirs.out.summary.work_orders == mine.out.summary.work_orders == 1
    assert preview(tenant, "again").out.summary.work_orders == 1  # the slot is free again


def test_over_http_the_refusal_is_a_429_with_retry_after_for_preview_and_apply(
    app: FastAPI,
    client: TestClient,
    live_server: str,
    tenant: Tenant,
    other_tenant: Tenant,
    gate: SolveGate,
) -> None:
    shop = _one_work_order(client, tenant)
    theirs = _one_work_order(client, other_tenant)
    body = {"horizon_start": H0.isoformat(), "time_limit_seconds": 1}
    before = db_counts(app.state.engine)

    def send() -> httpx.Response:
        with httpx.Client(base_url=live_server, timeout=WAIT) as http:
            return http.post(f"{API}/schedule/preview", json=body, headers=tenant.headers())

    with ThreadPoolExecutor(max_workers=1) as pool:
        first: Future[httpx.Response] = pool.submit(send)
        assert gate.solving.wait(WAIT)
        if app.state.engine.dialect.name == "postgresql":
            assert _advisory_locks(app.state.engine) == 1
            assert _idle_in_transaction(app.state.engine) == 0  # the solve holds none
        refusals = [
            shop.request("POST", "/schedule/preview", body),
            shop.request("POST", "/schedule/preview", body, role="admin"),
            shop.request("POST", "/schedule/apply", body),  # solve and apply in one step
        ]
        assert db_counts(app.state.engine) == before
        other = theirs.preview()
        gate.release.set()
        answer = first.result(WAIT)

    for refused in refusals:
        problem = assert_problem(refused, 429, "schedule-busy")
        assert problem["detail"] == BUSY
        assert refused.headers["retry-after"] == str(solving.RETRY_AFTER_SECONDS)
    assert other["summary"]["work_orders"] == 1
    assert ok(answer)["summary"]["work_orders"] == 1
    assert shop.apply()["scheduled"] != []  # free again: solved and applied
    if app.state.engine.dialect.name == "postgresql":
        assert _advisory_locks(app.state.engine) == 0


def test_the_slot_is_free_again_after_a_solve_that_fails(
    app: FastAPI, client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = _one_work_order(client, tenant)
    real = solve

    def broken(*args: Any, **kwargs: Any) -> Proposal:
        raise RuntimeError("the solver fell over")

    monkeypatch.setattr(propose, "solve", broken)
    with app.state.session_factory() as session, pytest.raises(RuntimeError):
        propose.preview(session, tenant.actor(), ScheduleRequest(horizon_start=H0))
    monkeypatch.setattr(propose, "solve", real)

    assert shop.preview()["summary"]["work_orders"] == 1
    if app.state.engine.dialect.name == "postgresql":
        assert _advisory_locks(app.state.engine) == 0


@pytest.mark.postgres_only
def test_on_postgresql_the_limit_holds_across_server_processes(
    app: FastAPI, client: TestClient, tenant: Tenant, database_url: str, gate: SolveGate
) -> None:
    """Another process (the CLI, as another app server would) is refused while this one
    solves for the organisation: the advisory lock is in the database, not in a process."""
    _one_work_order(client, tenant)
    cli = Path(sys.executable).with_name("taktline")
    args = [str(cli), "schedule", "--org", tenant.name, "--time-limit", "1"]
    env = {**os.environ, "TAKTLINE_DATABASE_URL": database_url}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    with app.state.session_factory() as session, ThreadPoolExecutor(max_workers=1) as pool:
        body = ScheduleRequest(horizon_start=H0, time_limit_seconds=1)
        first = pool.submit(propose.preview, session, tenant.actor(), body)
        assert gate.solving.wait(WAIT)
        refused = run()
        gate.release.set()
        first.result(WAIT)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert BUSY in " ".join((refused.stdout + refused.stderr).split())
    allowed = run()
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
