"""A Nuvemshop (Tiendanube) store API on 127.0.0.1, serving the demo seed in Nuvemshop's format.

It speaks the wire format :class:`NuvemshopConnector` reads: ``/{store_id}/customers?q=``,
``/{store_id}/orders?customer_ids=&created_at_min=``, ``/{store_id}/orders/{id}``,
``/{store_id}/products?q=`` and ``/{store_id}/products/sku/{sku}``, paginated with ``page`` and
``per_page`` and a ``Link`` header. Like Nuvemshop, it answers 400 without a ``User-Agent``, 401
without ``Authentication: bearer <token>``, and 404 ``"Last page is 0"`` to an empty list.

The data is the demo seed's: the same customers (with documents and phones written the ways
stores hold them), every product as one variant with its price as a decimal string and its
stock, and the orders with Nuvemshop's statuses (a delivered order is ``closed`` and shipped).
Two extra products cover what the demo lacks: an odd price (R$ 184,85) and untracked stock.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aiohttp import web
from unidecode import unidecode

from atende.connectors.demo.seed import (
    MARIA_ID,
    NOVA_ERA_ID,
    PADARIA_ID,
    demo_rows,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STORE_ID = "123456"
#: Nuvemshop order ids are large numbers, distinct from the order ``number`` customers see.
ORDER_ID_BASE = 1_870_000_000
ODD_PRICE_SKU = "KIT-001"
UNTRACKED_SKU = "GIFT-050"
MULTI_VARIANT_SKUS = ("MEI-P", "MEI-G")

# How each demo customer's documents, phones and CEPs are typed into the store.
_CUSTOMER_IDS = {MARIA_ID: 1001, PADARIA_ID: 1002, NOVA_ERA_ID: 1003}
_IDENTIFICATION = {MARIA_ID: "529.982.247-25", PADARIA_ID: "11222333000181"}
_PHONE = {MARIA_ID: "+55 11 98765-4321", PADARIA_ID: "(21) 99876-5432"}


def nuvemshop_order_id(demo_order_id: str) -> str:
    """The Nuvemshop id the fake gives a demo order (``PED-5002`` → ``1870005002``)."""
    return str(ORDER_ID_BASE + int(demo_order_id.removeprefix("PED-")))


def decimal_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def _fold(text: str) -> str:
    return unidecode(text).casefold()


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


def build_store(today: date) -> dict[str, list[dict[str, Any]]]:
    """The demo seed as Nuvemshop resources."""
    rows = demo_rows(today)
    customers = [
        {
            "id": _CUSTOMER_IDS[row["id"]],
            "name": row["name"],
            "email": row["email"],
            "phone": _PHONE.get(row["id"], row["phone"]),
            "identification": _IDENTIFICATION.get(row["id"], row["document"]),
            "default_address": {"zipcode": f"{row['cep'][:5]}-{row['cep'][5:]}"},
        }
        for row in rows["demo_customers"]
    ]
    products: list[dict[str, Any]] = [
        {
            "id": 5000 + number,
            "name": {"pt": row["name"]},
            "variants": [
                {
                    "id": 90000 + number,
                    "sku": row["sku"],
                    "price": decimal_text(row["price_cents"]),
                    "promotional_price": None,
                    "stock_management": True,
                    "stock": row["stock"],
                    "values": [],
                }
            ],
        }
        for number, row in enumerate(rows["demo_products"], start=1)
    ]
    products += [
        {
            "id": 4001,
            "name": {"pt": "Kit Presente Café da Manhã", "es": "Kit Regalo Desayuno"},
            "variants": [
                {
                    "id": 94001,
                    "sku": ODD_PRICE_SKU,
                    "price": "199.90",
                    "promotional_price": "184.85",
                    "stock_management": True,
                    "stock": 4,
                    "values": [],
                }
            ],
        },
        {
            "id": 4002,
            "name": {"pt": "Vale-Presente Digital R$ 50"},
            "variants": [
                {
                    "id": 94002,
                    "sku": UNTRACKED_SKU,
                    "price": "50.00",
                    "promotional_price": None,
                    "stock_management": False,
                    "stock": None,
                    "values": [],
                }
            ],
        },
        {
            "id": 4003,
            "name": {"pt": "Meia Esportiva Cano Alto"},
            "variants": [
                {
                    "id": 94003 + index,
                    "sku": sku,
                    "price": "19.90",
                    "promotional_price": None,
                    "stock_management": True,
                    "stock": 10 * index,
                    "values": [{"pt": size}],
                }
                for index, (sku, size) in enumerate(
                    zip(MULTI_VARIANT_SKUS, ("P", "G"), strict=True)
                )
            ],
        },
    ]
    items_by_order: dict[str, list[dict[str, Any]]] = {}
    for item in rows["demo_order_items"]:
        items_by_order.setdefault(item["order_id"], []).append(item)
    orders = []
    for row in rows["demo_orders"]:
        status = row["status"]
        items = items_by_order[row["id"]]
        orders.append(
            {
                "id": int(nuvemshop_order_id(row["id"])),
                "number": row["number"],
                "created_at": _iso(row["created_at"]),
                "status": "closed" if status == "delivered" else "open",
                "payment_status": "paid",
                "shipping_status": "unpacked" if status == "processing" else "shipped",
                "shipping_option": row["carrier"],
                "shipping_tracking_number": row["tracking_code"],
                "shipping_tracking_url": row["tracking_url"],
                "closed_at": _iso(row["delivered_at"]),
                "customer": {"id": _CUSTOMER_IDS[row["customer_id"]]},
                "products": [
                    {
                        "product_id": 1,
                        "variant_id": 1,
                        "sku": item["sku"],
                        "name": item["name"],
                        "quantity": item["quantity"],
                        "price": decimal_text(item["unit_price_cents"]),
                    }
                    for item in items
                ],
                "total": decimal_text(row["total_cents"]),
            }
        )
    return {"customers": customers, "products": products, "orders": orders}


def _error(status: int, message: str, description: str) -> web.Response:
    return web.json_response(
        {"code": status, "message": message, "description": description}, status=status
    )


class FakeNuvemshop:
    """One store (``STORE_ID``) whose app holds ``token``."""

    def __init__(self, today: date, *, token: str, store_id: str = STORE_ID) -> None:
        self.token = token
        self.store_id = store_id
        self.data = build_store(today)
        self.requests: list[Received] = []
        #: Nuvemshop caps ``per_page`` at 200; tests lower the cap to force pagination.
        self.max_per_page = 200
        self._scripted: list[web.Response] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def fail_next(self, status: int) -> None:
        self._scripted.append(_error(status, "Scripted", f"scripted failure {status}"))

    def calls(self, resource: str) -> list[Received]:
        prefix = f"/{self.store_id}/{resource}"
        return [item for item in self.requests if item.path.startswith(prefix)]

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/{store}/customers", self._customers)
        app.router.add_get("/{store}/orders", self._orders)
        app.router.add_get("/{store}/orders/{id}", self._order)
        app.router.add_get("/{store}/products", self._products)
        app.router.add_get("/{store}/products/sku/{sku}", self._product_by_sku)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- plumbing -------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(Received(request.path, dict(request.query), dict(request.headers)))
        if not request.headers.get("User-Agent", "").strip():
            return _error(400, "Bad Request", "A User-Agent header is required")
        scheme, _, token = request.headers.get("Authentication", "").partition(" ")
        if scheme.lower() != "bearer" or token != self.token:
            return _error(401, "Unauthorized", "Invalid access token")
        if request.match_info.get("store") != self.store_id:
            return _error(404, "Not Found", "Store not found")
        if self._scripted:
            return self._scripted.pop(0)
        return await handler(request)

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        page = int(request.query.get("page", "1"))
        per_page = min(int(request.query.get("per_page", "30")), self.max_per_page)
        last = math.ceil(len(items) / per_page)
        if page > last:
            return _error(404, "Not Found", f"Last page is {last}")
        response = web.json_response(items[(page - 1) * per_page : page * per_page])
        links = []
        if page < last:
            links.append(f'<{request.url.update_query(page=str(page + 1))}>; rel="next"')
        links.append(f'<{request.url.update_query(page=str(last))}>; rel="last"')
        response.headers["Link"] = ", ".join(links)
        return response

    # -- routes ---------------------------------------------------------------------------------

    async def _customers(self, request: web.Request) -> web.Response:
        query = _fold(request.query.get("q", ""))
        found = [
            customer
            for customer in self.data["customers"]
            if not query
            or any(
                query in _fold(str(customer[field] or ""))
                for field in ("name", "email", "identification")
            )
        ]
        return self._page(request, found)

    async def _orders(self, request: web.Request) -> web.Response:
        found = self.data["orders"]
        if "customer_ids" in request.query:
            wanted = {int(value) for value in request.query["customer_ids"].split(",")}
            found = [order for order in found if order["customer"]["id"] in wanted]
        if "created_at_min" in request.query:
            since = datetime.fromisoformat(request.query["created_at_min"])
            found = [
                order for order in found if datetime.fromisoformat(order["created_at"]) >= since
            ]
        return self._page(request, sorted(found, key=lambda order: order["id"]))

    async def _order(self, request: web.Request) -> web.Response:
        for order in self.data["orders"]:
            if str(order["id"]) == request.match_info["id"]:
                return web.json_response(order)
        return _error(404, "Not Found", "Order not found")

    async def _products(self, request: web.Request) -> web.Response:
        terms = _fold(request.query.get("q", "")).split()
        found = [
            product
            for product in self.data["products"]
            if all(
                term
                in _fold(
                    " ".join([*product["name"].values()] + [v["sku"] for v in product["variants"]])
                )
                for term in terms
            )
        ]
        return self._page(request, found)

    async def _product_by_sku(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"].upper()
        for product in self.data["products"]:
            if any(variant["sku"] == sku for variant in product["variants"]):
                return web.json_response(product)
        return _error(404, "Not Found", "Product not found")
