"""The OpenAPI document as a plain HTML page, rendered on the server.

Litestar's default pages load their JavaScript and fonts from CDNs, which a machine without
internet access cannot reach. This page needs nothing but the API itself; the full document
stays at `/schema/openapi.json`.
"""

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

METHODS = ("get", "post", "put", "patch", "delete")

STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 70rem; color: #222; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
.route { margin: 1rem 0; padding: .5rem 1rem; border-left: 4px solid #4a7; background: #f7f7f7; }
.method { font-weight: bold; text-transform: uppercase; display: inline-block; width: 4.5rem; }
code { font-size: .95em; }
table { border-collapse: collapse; margin: .3rem 0; }
td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; vertical-align: top; }
</style>"""


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "oneOf" in schema or "anyOf" in schema:
        return " | ".join(_schema_name(item) for item in schema.get("oneOf", schema.get("anyOf")))
    return str(schema.get("type", "object"))


def _route(path: str, method: str, operation: dict[str, Any]) -> str:
    parts = [f'<div class="route"><span class="method">{method}</span>'
             f"<code>{escape(path)}</code> — {escape(operation.get('summary', ''))}"]
    if operation.get("description"):
        parts.append(f"<p>{escape(operation['description'])}</p>")
    parameters = operation.get("parameters", [])
    if parameters:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td>"
            f"<td>{escape(_schema_name(p.get('schema', {})))}</td></tr>"
            for p in parameters)
        parts.append("<table><tr><th>parameter</th><th>in</th><th>required</th>"
                     f"<th>type</th></tr>{rows}</table>")
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        parts.append(f"<p>Body: <code>{escape(_schema_name(body.get('schema', {})))}</code></p>")
    statuses = ", ".join(sorted(operation.get("responses", {})))
    parts.append(f"<p>Responses: {escape(statuses)}</p></div>")
    return "".join(parts)


def _schemas(openapi: dict[str, Any]) -> str:
    schemas = openapi.get("components", {}).get("schemas", {})
    parts = []
    for name, schema in sorted(schemas.items()):
        required = set(schema.get("required", []))
        rows = "".join(
            f"<tr><td><code>{escape(field)}</code></td><td>{escape(_schema_name(spec))}</td>"
            f"<td>{'yes' if field in required else 'no'}</td></tr>"
            for field, spec in schema.get("properties", {}).items())
        parts.append(f"<h3 id='{escape(name)}'>{escape(name)}</h3><table><tr><th>field</th>"
                     f"<th>type</th><th>required</th></tr>{rows}</table>")
    return "".join(parts)


class PlainPagePlugin(OpenAPIRenderPlugin):
    """Serve the OpenAPI document at `/schema` as HTML that loads nothing from elsewhere."""

    def __init__(self, path: str = "/") -> None:
        super().__init__(path=path, favicon="", style=STYLE)

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        info = openapi_schema.get("info", {})
        routes = []
        for path, item in sorted(openapi_schema.get("paths", {}).items()):
            for method in METHODS:
                if method in item:
                    routes.append(_route(path, method, item[method]))
        title = escape(info.get("title", "API"))
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"{self.style}</head><body><h1>{title} {escape(info.get('version', ''))}</h1>"
            f"<p>{escape(info.get('description', ''))}</p>"
            "<p>Machine-readable document: <a href='/schema/openapi.json'>"
            "/schema/openapi.json</a></p>"
            f"<h2>Routes</h2>{''.join(routes)}<h2>Schemas</h2>{_schemas(openapi_schema)}"
            "</body></html>"
        )
        return page.encode()
