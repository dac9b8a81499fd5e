"""The headers every answer carries: a Content-Security-Policy without ``unsafe-inline``
(scripts and styles come from the app only), no framing, no referrer, no caching, no MIME
sniffing."""

from __future__ import annotations

#: scripts, styles, images and requests from this origin only; no inline script or style,
#: no plugin, no framing, forms post here only
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
