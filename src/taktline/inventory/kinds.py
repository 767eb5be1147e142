"""The words of stock: a lot's status and origin, the kinds of ledger entry. Plain data,
shared by the rules and the records."""

import enum


class LotStatus(enum.StrEnum):
    QUARANTINE = "QUARANTINE"  # awaiting QA release
    AVAILABLE = "AVAILABLE"
    HOLD = "HOLD"  # with a reason, a recall say
    REJECTED = "REJECTED"
    DEPLETED = "DEPLETED"  # nothing left on hand


class LotOrigin(enum.StrEnum):
    RECEIVED = "RECEIVED"
    PRODUCED = "PRODUCED"


class EntryKind(enum.StrEnum):
    RECEIVE = "RECEIVE"
    ADJUST = "ADJUST"  # a count corrected, with a reason
    ALLOCATE = "ALLOCATE"  # reserved for a work order
    RELEASE = "RELEASE"  # a reservation given back
    PULL = "PULL"  # consumed by a work order
    RETURN = "RETURN"  # a pull undone
    PRODUCE = "PRODUCE"  # made by a work order
    SCRAP = "SCRAP"
