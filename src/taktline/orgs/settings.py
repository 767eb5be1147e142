"""The organisation's own settings: read by everyone in it, changed by its admins, audited."""

from sqlalchemy.orm import Session

from taktline import records
from taktline.db import transaction
from taktline.events import service as events
from taktline.orgs.models import Organisation
from taktline.orgs.schemas import OrganisationUpdate
from taktline.permissions import Actor, authorize


def get_organisation(session: Session, actor: Actor) -> Organisation:
    authorize(actor, "organisation.read")
    return session.get_one(Organisation, actor.org_id)


def update_organisation(session: Session, actor: Actor, body: OrganisationUpdate) -> Organisation:
    authorize(actor, "organisation.update")
    with transaction(session):
        org = session.get_one(Organisation, actor.org_id, with_for_update=True)
        diff = records.apply_changes(org, body.changes())
        if diff:
            events.record(session, actor, "organisation", org.id, "update", changes=diff)
    return org
