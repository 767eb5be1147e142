"""/organisation (its settings: the over-production tolerance), and /facilities and
/customers: create, list, get, PATCH."""

from taktline.api.deps import ActorDep
from taktline.api.records import records_router
from taktline.api.routing import APIRouter
from taktline.http import SessionDep
from taktline.orgs import settings
from taktline.orgs.schemas import OrganisationOut, OrganisationUpdate
from taktline.orgs.service import CUSTOMERS, FACILITIES

facilities = records_router(FACILITIES)
customers = records_router(CUSTOMERS)

organisation = APIRouter(prefix="/organisation", tags=["organisation"])


@organisation.get("")
def get_organisation(session: SessionDep, actor: ActorDep) -> OrganisationOut:
    return OrganisationOut.model_validate(settings.get_organisation(session, actor))


@organisation.patch("")
def update_organisation(
    body: OrganisationUpdate, session: SessionDep, actor: ActorDep
) -> OrganisationOut:
    return OrganisationOut.model_validate(settings.update_organisation(session, actor, body))
