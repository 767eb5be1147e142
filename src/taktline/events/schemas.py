"""Response bodies of the audit trail."""

import uuid
from datetime import datetime

from taktline.schemas import ResponseBody


class EventOut(ResponseBody):
    id: uuid.UUID
    at: datetime
    entity_type: str
    entity_id: uuid.UUID
    action: str
    from_state: str | None
    to_state: str | None
    actor_email: str | None
    reason: str | None
    changes: dict[str, object]
