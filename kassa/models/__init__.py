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

__all__ = [
    "AccountKind",
    "ApiKey",
    "CreditClawbackPart",
    "CreditLot",
    "CreditPackage",
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
    "TransferKind",
    "WorkerLease",
]
