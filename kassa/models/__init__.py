"""tortoise models. They import nothing of kassa's but each other and `kassa.money`."""

from kassa.models.ledger import AccountKind, LedgerAccount, LedgerTransfer, TransferKind
from kassa.models.organization import Organization
from kassa.models.payment import Payment, PaymentPurpose, PaymentStatus
from kassa.models.stripe_event import StripeEvent, StripeEventStatus

__all__ = [
    "AccountKind",
    "LedgerAccount",
    "LedgerTransfer",
    "Organization",
    "Payment",
    "PaymentPurpose",
    "PaymentStatus",
    "StripeEvent",
    "StripeEventStatus",
    "TransferKind",
]
