"""The Litestar application: REST routes, /metrics, OpenAPI at /schema and the admin console.

Every operation goes to the workers over the bus; the API holds no business logic and never
touches Valkey.
"""

from pathlib import Path

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.static_files import create_static_files_router

from bus.connection import close_quietly, connect_with_retry
from http_api import routes_platform, routes_rooms, routes_users
from http_api.errors import HANDLERS, ErrorBody
from http_api.metrics import Aggregator
from http_api.openapi_page import PlainPagePlugin
from mimo.settings import Settings

ADMIN_DIR = Path(__file__).parent / "static" / "admin"

ERROR_RESPONSES = {
    status: ResponseSpec(data_container=ErrorBody, description=description)
    for status, description in {
        400: "Invalid input (code 4003 or 4004)",
        401: "Missing or invalid API key (code 1000)",
        403: "Rejected by a rule (1001, 1006, 2002, 2003, 2004, 2005, 4000)",
        404: "User or room not found (1002, 2000)",
        409: "Conflict (2001, 2006)",
        422: "Body or query fails its schema (code 4003; the message names the field)",
        429: "Rate or inbox limit (4001, 4002, 4005)",
        500: "Internal error (code -1)",
        503: "A worker or NATS did not answer (code -1)",
    }.items()
}


def create_app(settings: Settings) -> Litestar:
    aggregator = Aggregator()

    async def startup(app: Litestar) -> None:
        app.state.nc = await connect_with_retry(settings.nats_url, "mimo-api")
        await aggregator.start(app.state.nc)

    async def shutdown(app: Litestar) -> None:
        await aggregator.stop()
        await close_quietly(app.state.nc)

    admin = create_static_files_router(path="/admin", directories=[ADMIN_DIR], html_mode=True,
                                       include_in_schema=False, name="admin")
    routes = [*routes_platform.ROUTES, *routes_users.ROUTES, *routes_rooms.ROUTES]
    for handler in routes:
        # Every route may fail with the shared error shape; list it in the OpenAPI document.
        handler.responses = {**ERROR_RESPONSES, **(handler.responses or {})}
    api = Router(path="/", route_handlers=routes)
    return Litestar(
        route_handlers=[api, admin],
        on_startup=[startup],
        on_shutdown=[shutdown],
        state=State({"settings": settings, "aggregator": aggregator}),
        exception_handlers=HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Mimo HTTP API", version="1.0.0", path="/schema",
            render_plugins=[PlainPagePlugin()],
            description="REST for business systems. Send `Authorization: Bearer KEY` with a key "
                        "from MIMO_API_KEYS. Errors are `{\"code\", \"error\"}`.",
        ),
    )
