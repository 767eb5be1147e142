"""How an item's stock is kept: tracked by lot or not, which lots go first, the status of
its new lots. Plain data, shared by the rules and the records."""

import enum


class Tracking(enum.StrEnum):
    """Whether an item's stock is kept lot by lot (LOT) or as one balance per facility (NONE:
    shrink wrap is not lot-tracked)."""

    LOT = "LOT"
    NONE = "NONE"


class AllocationStrategy(enum.StrEnum):
    """Which lots an automatic allocation takes first: FEFO, the earliest expiry; FIFO, the
    earliest received (or made)."""

    FEFO = "FEFO"
    FIFO = "FIFO"


class NewLotStatus(enum.StrEnum):
    """The status a new lot of the item starts in: QUARANTINE until QA releases it, or
    AVAILABLE at once."""

    QUARANTINE = "QUARANTINE"
    AVAILABLE = "AVAILABLE"
