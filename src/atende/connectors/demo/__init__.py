"""The embedded demo ERP: a pt-BR shop's customers, boletos, orders and catalogue."""

from atende.connectors.demo.erp import (
    DemoErp,
    business_today,
    demo_database_url,
)
from atende.connectors.demo.seed import seed_demo_erp

__all__ = [
    "DemoErp",
    "business_today",
    "demo_database_url",
    "seed_demo_erp",
]
