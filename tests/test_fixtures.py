"""The test base itself: tenants, row counts, the SQLite lock guard and the live server."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline.items.models import Item
from taktline.models import Base
from taktline.permissions import Role
from tests.helpers import API, ROLES, Tenant, bodies, create, db_counts


def test_a_tenant_has_a_working_token_and_an_actor_for_every_role(
    client: TestClient, tenant: Tenant
) -> None:
    for role in ROLES:
        response = client.get(f"{API}/items", headers=tenant.headers(role))
        assert response.status_code == 200, response.text
        actor = tenant.actor(role)
        assert (actor.org_id, actor.role) == (tenant.org_id, role)
    assert tenant.actor().role is Role.PLANNER


def test_two_tenants_are_two_organisations(tenant: Tenant, other_tenant: Tenant) -> None:
    assert tenant.org_id != other_tenant.org_id
    assert tenant.token("admin") != other_tenant.token("admin")


def test_db_counts_counts_every_table_and_sees_each_commit(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    before = db_counts(session)

    create(client, tenant, "/items", bodies.item())

    after = db_counts(session)
    assert set(before) == set(Base.metadata.tables)
    assert after["items"] == before["items"] + 1
    assert after["events"] == before["events"] + 1


def test_client_refuses_to_call_the_api_while_the_sessions_sqlite_transaction_holds_the_lock(
    client: TestClient, tenant: Tenant, session: Session, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("only SQLite locks the whole database from BEGIN")
    session.scalars(select(Item)).all()  # begins a transaction

    with pytest.raises(RuntimeError, match=r"session\.commit\(\)"):
        client.get(f"{API}/items", headers=tenant.headers())

    session.rollback()
    assert client.get(f"{API}/items", headers=tenant.headers()).status_code == 200


def test_session_objects_reload_what_an_api_call_committed(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    item = create(client, tenant, "/items", bodies.item(name="Before"))
    loaded = session.scalars(select(Item).where(Item.sku == item["sku"])).one()
    session.rollback()

    client.patch(f"{API}/items/{item['id']}", json={"name": "After"}, headers=tenant.headers())

    assert loaded.name == "After"
    session.rollback()


def test_live_server_serves_concurrent_clients_over_http(live_server: str, tenant: Tenant) -> None:
    def create_item(n: int) -> int:
        body = bodies.item(sku=f"LIVE-{n}")
        with httpx.Client(base_url=live_server, headers=tenant.headers(), timeout=30) as http:
            return http.post(f"{API}/items", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create_item, range(16)))

    assert statuses == [201] * 16
    with httpx.Client(base_url=live_server, headers=tenant.headers(), timeout=30) as http:
        listed = http.get(f"{API}/items", params={"limit": 100}).json()["items"]
        health = http.get(f"{API}/health").json()
    assert sorted(item["sku"] for item in listed) == sorted(f"LIVE-{n}" for n in range(16))
    assert health["database"] == "ok"
