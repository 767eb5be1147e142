"""The rules every simple record of the API follows (items, facilities, customers, resources):
create, list with a cursor, get with an ETag, PATCH with If-Match, natural keys, validation,
tenancy, roles and Idempotency-Key. And a refused request changes nothing.

A feature's test file states them for its record by subclassing `RecordContract` with a
`RecordSpec`; pytest collects the subclass (its name starts with Test) with every rule below.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.helpers.api import API, assert_problem, create, error_fields, list_all
from tests.helpers.counts import db_counts
from tests.helpers.tenants import ROLES, Tenant

BodyMaker = Callable[[TestClient, Tenant], dict[str, Any]]


@dataclass(frozen=True)
class RecordSpec:
    path: str
    """Under /api/v1: "/items"."""
    make_body: BodyMaker
    """A valid create body, unique on every call; may create what it refers to first."""
    natural_key: str
    """The field unique within an organisation: "sku"."""
    required: str
    """A field required on create, which PATCH may change but not set to null."""
    new_value: Callable[[], Any]
    """A fresh valid value for `required`."""


def _with_if_match(tenant: Tenant, version: int, role: str = "planner") -> dict[str, str]:
    return {**tenant.headers(role), "If-Match": f'"{version}"'}


def _is_aware_timestamp(value: str) -> bool:
    return datetime.fromisoformat(value).utcoffset() is not None


class RecordContract:
    spec: ClassVar[RecordSpec]

    # -- helpers -----------------------------------------------------------------------------

    def url(self, record_id: object = None) -> str:
        return f"{API}{self.spec.path}" + (f"/{record_id}" if record_id is not None else "")

    def make(self, client: TestClient, tenant: Tenant) -> Any:
        return create(client, tenant, self.spec.path, self.spec.make_body(client, tenant))

    # -- create ------------------------------------------------------------------------------

    def test_create_answers_201_with_id_version_timestamps_and_the_fields_sent(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        body = self.spec.make_body(client, tenant)

        response = client.post(self.url(), json=body, headers=tenant.headers())

        assert response.status_code == 201, response.text
        record = response.json()
        uuid.UUID(record["id"])
        assert record["version"] == 1
        assert _is_aware_timestamp(record["created_at"])
        assert _is_aware_timestamp(record["updated_at"])
        assert {k: record[k] for k in body} == body

    def test_create_without_a_required_field_answers_422_naming_it(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        body = self.spec.make_body(client, tenant)
        del body[self.spec.required]
        before = db_counts(session)

        response = client.post(self.url(), json=body, headers=tenant.headers())

        problem = assert_problem(response, 422, "validation-error")
        assert f"body.{self.spec.required}" in error_fields(problem)
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_create_with_an_unknown_field_answers_422_naming_it(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        body = {**self.spec.make_body(client, tenant), "colour": "red"}
        before = db_counts(session)

        response = client.post(self.url(), json=body, headers=tenant.headers())

        problem = assert_problem(response, 422, "validation-error")
        assert "body.colour" in error_fields(problem)
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_create_with_a_duplicate_natural_key_answers_409_and_changes_nothing(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        first = self.make(client, tenant)
        body = {
            **self.spec.make_body(client, tenant),
            self.spec.natural_key: first[self.spec.natural_key],
        }
        before = db_counts(session)

        response = client.post(self.url(), json=body, headers=tenant.headers())

        assert_problem(response, 409, "conflict")
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_the_same_natural_key_is_free_in_another_organisation(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        mine = self.make(client, tenant)
        body = {
            **self.spec.make_body(client, other_tenant),
            self.spec.natural_key: mine[self.spec.natural_key],
        }

        response = client.post(self.url(), json=body, headers=other_tenant.headers())

        assert response.status_code == 201, response.text

    # -- list --------------------------------------------------------------------------------

    def test_list_pages_with_a_cursor_in_a_stable_order_of_creation(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        created = [self.make(client, tenant)["id"] for _ in range(5)]
        self.make(client, other_tenant)

        pages = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            response = client.get(self.url(), params=params, headers=tenant.headers("viewer"))
            assert response.status_code == 200, response.text
            page = response.json()
            pages.append([record["id"] for record in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert pages == [created[0:2], created[2:4], created[4:5]]
        again = [r["id"] for r in list_all(client, tenant, self.spec.path, limit=500)]
        assert again == created

    def test_list_refuses_a_limit_over_500_and_a_made_up_cursor(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        too_many = client.get(self.url(), params={"limit": 501}, headers=tenant.headers())
        bad_cursor = client.get(self.url(), params={"cursor": "!!"}, headers=tenant.headers())

        assert "query.limit" in error_fields(assert_problem(too_many, 422, "validation-error"))
        assert "query.cursor" in error_fields(assert_problem(bad_cursor, 422, "validation-error"))

    # -- get ---------------------------------------------------------------------------------

    def test_get_returns_the_record_with_its_version_as_etag(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        record = self.make(client, tenant)

        response = client.get(self.url(record["id"]), headers=tenant.headers("viewer"))

        assert response.status_code == 200, response.text
        assert response.json() == record
        assert response.headers["etag"] == '"1"'

    def test_every_role_may_read(self, client: TestClient, tenant: Tenant) -> None:
        record = self.make(client, tenant)

        for role in ROLES:
            assert client.get(self.url(), headers=tenant.headers(role)).status_code == 200
            assert (
                client.get(self.url(record["id"]), headers=tenant.headers(role)).status_code == 200
            )

    # -- patch -------------------------------------------------------------------------------

    def test_patch_with_the_current_if_match_changes_the_field_and_bumps_the_version(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        record = self.make(client, tenant)
        value = self.spec.new_value()

        response = client.patch(
            self.url(record["id"]),
            json={self.spec.required: value},
            headers=_with_if_match(tenant, 1),
        )

        assert response.status_code == 200, response.text
        changed = response.json()
        assert changed[self.spec.required] == value
        assert changed["version"] == 2
        assert response.headers["etag"] == '"2"'
        assert changed["created_at"] == record["created_at"]
        assert datetime.fromisoformat(changed["updated_at"]) >= datetime.fromisoformat(
            record["updated_at"]
        )

    def test_patch_with_a_stale_if_match_answers_412_and_changes_nothing(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        record = self.make(client, tenant)
        first = client.patch(
            self.url(record["id"]),
            json={self.spec.required: self.spec.new_value()},
            headers=_with_if_match(tenant, 1),
        )
        assert first.status_code == 200, first.text
        before = db_counts(session)

        stale = client.patch(
            self.url(record["id"]),
            json={self.spec.required: self.spec.new_value()},
            headers=_with_if_match(tenant, 1),
        )

        problem = assert_problem(stale, 412, "version-mismatch")
        assert problem["current_version"] == 2
        assert client.get(self.url(record["id"]), headers=tenant.headers()).json() == first.json()
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_patch_with_a_malformed_if_match_answers_422(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        record = self.make(client, tenant)

        response = client.patch(
            self.url(record["id"]),
            json={self.spec.required: self.spec.new_value()},
            headers={**tenant.headers(), "If-Match": "yesterday"},
        )

        assert "header.If-Match" in error_fields(assert_problem(response, 422, "validation-error"))

    def test_patch_with_null_for_a_required_field_answers_422_naming_it(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        record = self.make(client, tenant)
        before = db_counts(session)

        response = client.patch(
            self.url(record["id"]), json={self.spec.required: None}, headers=tenant.headers()
        )

        problem = assert_problem(response, 422, "validation-error")
        assert self.spec.required in problem["detail"]
        assert client.get(self.url(record["id"]), headers=tenant.headers()).json() == record
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_patch_with_an_unknown_field_answers_422_naming_it(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        record = self.make(client, tenant)
        before = db_counts(session)

        response = client.patch(
            self.url(record["id"]), json={"colour": "red"}, headers=tenant.headers()
        )

        assert "body.colour" in error_fields(assert_problem(response, 422, "validation-error"))
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_patch_to_a_duplicate_natural_key_answers_409_and_changes_nothing(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        first, second = self.make(client, tenant), self.make(client, tenant)
        before = db_counts(session)

        response = client.patch(
            self.url(second["id"]),
            json={self.spec.natural_key: first[self.spec.natural_key]},
            headers=tenant.headers(),
        )

        assert_problem(response, 409, "conflict")
        assert client.get(self.url(second["id"]), headers=tenant.headers()).json() == second
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    # -- tenancy and roles -------------------------------------------------------------------

    def test_another_organisations_id_answers_404_exactly_like_a_missing_one(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant, session: Session
    ) -> None:
        theirs = self.make(client, other_tenant)
        before = db_counts(session)

        for record_id in (theirs["id"], str(uuid.uuid4())):
            got = client.get(self.url(record_id), headers=tenant.headers())
            patched = client.patch(
                self.url(record_id),
                json={self.spec.required: self.spec.new_value()},
                headers=tenant.headers(),
            )
            for response in (got, patched):
                problem = assert_problem(response, 404, "not-found")
                assert problem["detail"].endswith(f"with id {record_id}.")

        assert client.get(self.url(theirs["id"]), headers=other_tenant.headers()).json() == theirs
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_another_organisations_records_are_not_listed(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        self.make(client, other_tenant)

        assert list_all(client, tenant, self.spec.path) == []

    def test_a_malformed_id_answers_422(self, client: TestClient, tenant: Tenant) -> None:
        response = client.get(self.url("not-a-uuid"), headers=tenant.headers())

        assert_problem(response, 422, "validation-error")

    @pytest.mark.parametrize("role", ["viewer", "operator"])
    def test_viewer_and_operator_may_not_create_or_patch(
        self, client: TestClient, tenant: Tenant, role: str, session: Session
    ) -> None:
        record = self.make(client, tenant)
        body = self.spec.make_body(client, tenant)
        before = db_counts(session)

        created = client.post(self.url(), json=body, headers=tenant.headers(role))
        patched = client.patch(
            self.url(record["id"]),
            json={self.spec.required: self.spec.new_value()},
            headers=tenant.headers(role),
        )

        assert role in assert_problem(created, 403, "forbidden")["detail"]
        assert role in assert_problem(patched, 403, "forbidden")["detail"]
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    @pytest.mark.parametrize("role", ["admin", "planner"])
    def test_admin_and_planner_may_create_and_patch(
        self, client: TestClient, tenant: Tenant, role: str
    ) -> None:
        body = self.spec.make_body(client, tenant)

        created = client.post(self.url(), json=body, headers=tenant.headers(role))
        assert created.status_code == 201, created.text
        patched = client.patch(
            self.url(created.json()["id"]),
            json={self.spec.required: self.spec.new_value()},
            headers=tenant.headers(role),
        )
        assert patched.status_code == 200, patched.text

    # -- Idempotency-Key ---------------------------------------------------------------------

    def test_idempotency_key_replay_returns_the_first_answer_and_creates_nothing(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        body = self.spec.make_body(client, tenant)
        headers = {**tenant.headers(), "Idempotency-Key": f"create-{uuid.uuid4()}"}
        first = client.post(self.url(), json=body, headers=headers)
        assert first.status_code == 201, first.text
        before = db_counts(session)

        replay = client.post(self.url(), json=body, headers=headers)

        assert replay.status_code == 201
        assert replay.json() == first.json()
        assert replay.headers["idempotent-replayed"] == "true"
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_idempotency_key_reused_with_another_body_answers_422_and_creates_nothing(
        self, client: TestClient, tenant: Tenant, session: Session
    ) -> None:
        headers = {**tenant.headers(), "Idempotency-Key": f"create-{uuid.uuid4()}"}
        first = client.post(self.url(), json=self.spec.make_body(client, tenant), headers=headers)
        assert first.status_code == 201, first.text
        other_body = self.spec.make_body(client, tenant)
        before = db_counts(session)

        response = client.post(self.url(), json=other_body, headers=headers)

        assert_problem(response, 422, "idempotency-key-reused")
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]

    def test_idempotency_keys_of_another_organisation_are_its_own(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        key = {"Idempotency-Key": f"create-{uuid.uuid4()}"}
        mine = client.post(
            self.url(),
            json=self.spec.make_body(client, tenant),
            headers={**tenant.headers(), **key},
        )

        theirs = client.post(
            self.url(),
            json=self.spec.make_body(client, other_tenant),
            headers={**other_tenant.headers(), **key},
        )

        assert mine.status_code == theirs.status_code == 201
        assert "idempotent-replayed" not in theirs.headers
        assert theirs.json()["id"] != mine.json()["id"]
