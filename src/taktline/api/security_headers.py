"""The security headers of every answer, and `Secure` cookies over HTTPS.

The header values are built with the `secure` package's typed builders; this module only
decides which policy an answer gets, by what it is:

- the API (`/api/...`) answers JSON and nothing in it runs or is embedded: a CSP that allows
  nothing (`default-src 'none'`), as OWASP recommends for REST services;
- the interactive docs (`/docs`): Swagger UI, its script and styles from this server, its one
  inline script allowed by its hash, the OpenAPI document fetched from here;
- the portal (everything else): scripts, styles, images and form posts of this server only.
  Style *attributes* are allowed (`style-src-attr`): the portal's bars are `style="width:
  40%"`, computed per row; `<style>` elements and scripts inline are not.

Every answer gets the same frame, sniffing, referrer, opener and resource policies. Every
answer but a static file gets `Cache-Control: no-store` unless it says otherwise: signed-in
pages, the sign-in form with its CSRF token and the API's answers hold an organisation's data,
which must not stay in a browser's or a proxy's cache. Over HTTPS (the request's scheme, which
a trusted proxy may set: `TAKTLINE_FORWARDED_ALLOW_IPS`) every answer also carries HSTS, and
every cookie it sets is marked `Secure`, wherever in the code it was set.
"""

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from secure import (
    CacheControl,
    ContentSecurityPolicy,
    CrossOriginOpenerPolicy,
    CrossOriginResourcePolicy,
    PermissionsPolicy,
    ReferrerPolicy,
    Secure,
    StrictTransportSecurity,
    XContentTypeOptions,
    XFrameOptions,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/"
DOCS_PATH = "/docs"
STATIC_PREFIX = "/static/"


def csp_hash(source: str) -> str:
    """The CSP source expression that allows exactly this inline script (or URL)."""
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def inline_scripts(html: str) -> list[str]:
    """The bodies of the inline `<script>` elements of a page (those without `src`)."""
    return re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)


def api_csp() -> ContentSecurityPolicy:
    return ContentSecurityPolicy().default_src("'none'").frame_ancestors("'none'")


def portal_csp() -> ContentSecurityPolicy:
    return (
        ContentSecurityPolicy()
        .default_src("'self'")
        .script_src("'self'")
        .script_src_attr("'none'")
        .style_src("'self'")
        .style_src_attr("'unsafe-inline'")
        .img_src("'self'")
        .object_src("'none'")
        .base_uri("'none'")
        .form_action("'self'")
        .frame_ancestors("'none'")
    )


def docs_csp(inline_script_hashes: Iterable[str]) -> ContentSecurityPolicy:
    """Swagger UI: its bundle and stylesheet from /static/swagger-ui, its start-up script by
    hash, images as data: URLs (its icons), requests to this server (the OpenAPI document and
    "Try it out")."""
    return (
        ContentSecurityPolicy()
        .default_src("'none'")
        .script_src("'self'", *inline_script_hashes)
        .style_src("'self'")
        .img_src("'self'", "data:")
        .connect_src("'self'")
        .base_uri("'none'")
        .form_action("'self'")
        .frame_ancestors("'none'")
    )


def _policy(csp: ContentSecurityPolicy) -> dict[str, str]:
    """The headers every answer carries, with this content security policy."""
    return dict(
        Secure(
            csp=csp,
            xfo=XFrameOptions().deny(),
            xcto=XContentTypeOptions().nosniff(),
            # Same origin: the full address within Taktline, nothing (not even the origin)
            # to other sites; a same-origin form post keeps its Origin header.
            referrer=ReferrerPolicy().same_origin(),
            coop=CrossOriginOpenerPolicy().same_origin(),
            corp=CrossOriginResourcePolicy().same_origin(),
            permissions=PermissionsPolicy().camera().geolocation().microphone().payment(),
        ).headers
    )


NO_STORE = dict(Secure(cache=CacheControl().no_store()).headers)
HSTS = dict(Secure(hsts=StrictTransportSecurity().max_age(31536000)).headers)


@dataclass(frozen=True)
class HeaderPolicies:
    api: Mapping[str, str]
    docs: Mapping[str, str]
    portal: Mapping[str, str]

    @classmethod
    def for_docs_page(cls, docs_html: str) -> "HeaderPolicies":
        hashes = [csp_hash(script) for script in inline_scripts(docs_html)]
        return cls(
            api=_policy(api_csp()), docs=_policy(docs_csp(hashes)), portal=_policy(portal_csp())
        )

    def for_path(self, path: str) -> Mapping[str, str]:
        if path.startswith(API_PREFIX):
            return self.api
        if path == DOCS_PATH:
            return self.docs
        return self.portal


_SECURE_ATTRIBUTE = re.compile(rb";\s*secure\s*(;|$)", re.IGNORECASE)


def secure_cookie(set_cookie: bytes) -> bytes:
    """A Set-Cookie value with the `Secure` attribute (once)."""
    return set_cookie if _SECURE_ATTRIBUTE.search(set_cookie) else set_cookie + b"; Secure"


RawHeaders = tuple[tuple[bytes, bytes], ...]


def _raw(headers: Mapping[str, str]) -> RawHeaders:
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


class SecurityHeadersMiddleware:
    """Adds the headers of the answer's policy to every HTTP answer that has not set them
    itself, and over HTTPS marks every cookie `Secure` and adds HSTS."""

    def __init__(self, app: ASGIApp, policies: HeaderPolicies) -> None:
        self.app = app
        self.policies = policies
        # Every answer gets one of these few sets: encoded once, not per answer.
        self._sets: dict[tuple[int, bool, bool], RawHeaders] = {}

    def _headers(self, path: str, https: bool) -> RawHeaders:
        policy = self.policies.for_path(path)
        store = not path.startswith(STATIC_PREFIX)
        key = (id(policy), store, https)
        found = self._sets.get(key)
        if found is None:
            extra = dict(policy)
            if store:
                extra.update(NO_STORE)
            if https:
                extra.update(HSTS)
            found = self._sets[key] = _raw(extra)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        extra = self._headers(scope["path"], https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers") or ())
                present = {name.lower() for name, _ in raw}
                raw.extend(header for header in extra if header[0] not in present)
                if https:
                    raw = [
                        (name, secure_cookie(value) if name.lower() == b"set-cookie" else value)
                        for name, value in raw
                    ]
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)
