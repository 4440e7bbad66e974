"""GraphiQL from this server's own files: no CDN, so it works offline too.

The page loads React, ReactDOM and GraphiQL (vendored under ``ezhr_graphql/static/
graphiql``; ``vendor/graphiql/refresh`` rebuilds them) and ``ezhr-graphiql.js``, which
sends queries and mutations over HTTP and subscriptions over graphql-transport-ws,
both with the headers typed in GraphiQL's Headers tab.
"""

from __future__ import annotations

import hashlib
from functools import cache
from html import escape
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).resolve().parents[2] / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"

STYLESHEETS = ("graphiql.min.css", "ezhr-graphiql.css")
SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "ezhr-graphiql.js",
)

# Scripts only from this origin, and no inline script. Styles may be inline: GraphiQL's
# menus and dialogs add <style> elements. Its fonts are data: URLs in its stylesheet.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _asset_url(name: str) -> str:
    """The asset's URL relative to the page (``/graphql``), so the page also works
    under a path prefix; a digest of the content makes browsers fetch a new version."""
    digest = hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest()[:12]
    return escape(f"{ASSETS_PATH.lstrip('/')}/{name}?v={digest}")


@cache
def graphiql_html() -> str:
    links = "\n".join(f'<link rel="stylesheet" href="{_asset_url(n)}">' for n in STYLESHEETS)
    scripts = "\n".join(f'<script src="{_asset_url(n)}"></script>' for n in SCRIPTS)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>GraphiQL · ezhr-graphql</title>
<link rel="icon" href="data:,">
{links}
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
{scripts}
</body>
</html>
"""


def graphiql_response(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers=HEADERS)


def graphiql_assets() -> Mount:
    """The route serving the page's scripts and stylesheets."""
    return Mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="graphiql-assets")
