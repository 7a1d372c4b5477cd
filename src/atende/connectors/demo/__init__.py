"""The embedded demo ERP: a pt-BR shop's customers, boletos, orders and catalogue."""

from atende.connectors.demo.erp import (
    BOLETO_PDF_PATH,
    DemoErp,
    business_today,
    demo_database_url,
)
from atende.connectors.demo.seed import seed_demo_erp

__all__ = [
    "BOLETO_PDF_PATH",
    "DemoErp",
    "business_today",
    "demo_database_url",
    "seed_demo_erp",
]
