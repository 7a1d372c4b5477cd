"""Every table, imported in one place for Alembic and the tests."""

from atende.assistant.faq_models import FaqPassage
from atende.assistant.recall_models import Memory
from atende.audit.models import AdminNotice, AiTurn
from atende.channels.models import Channel, ChannelKind, ProviderEvent
from atende.contacts.models import Contact, ContactIdentity
from atende.conversations.models import Conversation, ConversationEvent, Message
from atende.deferred.models import DeferredRequest
from atende.kit.db import Base
from atende.outbox.models import DeliveryAttempt
from atende.tenancy.models import ServiceToken, Tenant

__all__ = [
    "AdminNotice",
    "AiTurn",
    "Base",
    "Channel",
    "ChannelKind",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationEvent",
    "DeferredRequest",
    "DeliveryAttempt",
    "FaqPassage",
    "Memory",
    "Message",
    "ProviderEvent",
    "ServiceToken",
    "Tenant",
]
