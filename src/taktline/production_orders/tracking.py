"""Keeps a production order's state in step with its work orders, in their transaction."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline.auth.permissions import Actor
from taktline.events import service as events
from taktline.production_orders.lifecycle import derive_state
from taktline.production_orders.models import ProductionOrder
from taktline.work_orders.models import WorkOrder

ENTITY = "production_order"


def follow_work_orders(session: Session, actor: Actor, po: ProductionOrder, cause: str) -> None:
    """Moves `po` to the state its work orders imply, with an event that says why."""
    states = session.scalars(
        select(WorkOrder.state).where(WorkOrder.production_order_id == po.id)
    ).all()
    new_state = derive_state(po.state, states)
    if new_state is po.state:
        return
    old_state = po.state
    po.state = new_state
    events.record(
        session,
        actor,
        ENTITY,
        po.id,
        "follow",
        from_state=old_state,
        to_state=new_state,
        reason=cause,
    )
