"""tortoise models. They import nothing of kassa's but each other and `kassa.money`."""

from kassa.models.api_key import ApiKey, RateLimitWindow
from kassa.models.credits import CreditClawbackPart, CreditLot, CreditPackage
from kassa.models.invoice import Invoice, InvoiceCounter, InvoiceSeller
from kassa.models.ledger import AccountKind, LedgerAccount, LedgerTransfer, TransferKind
from kassa.models.order import Order, OrderStatus
from kassa.models.organization import Organization
from kassa.models.outbox import OutboxMessage, OutboxStatus
from kassa.models.payment import Payment, PaymentPurpose, PaymentStatus
from kassa.models.reconciliation import ReconciliationRun, WorkerLease
from kassa.models.refund import Refund, RefundStatus
from kassa.models.saved_card import SavedCard
from kassa.models.stripe_event import StripeEvent, StripeEventStatus
from kassa.models.subscription import (
    LIVE_STATUSES,
    BillingInterval,
    CreditPlan,
    CreditSubscription,
    SubscriptionStatus,
)

__all__ = [
    "LIVE_STATUSES",
    "AccountKind",
    "ApiKey",
    "BillingInterval",
    "CreditClawbackPart",
    "CreditLot",
    "CreditPackage",
    "CreditPlan",
    "CreditSubscription",
    "Invoice",
    "InvoiceCounter",
    "InvoiceSeller",
    "LedgerAccount",
    "LedgerTransfer",
    "Order",
    "OrderStatus",
    "Organization",
    "OutboxMessage",
    "OutboxStatus",
    "Payment",
    "PaymentPurpose",
    "PaymentStatus",
    "RateLimitWindow",
    "ReconciliationRun",
    "Refund",
    "RefundStatus",
    "SavedCard",
    "StripeEvent",
    "StripeEventStatus",
    "SubscriptionStatus",
    "TransferKind",
    "WorkerLease",
]
