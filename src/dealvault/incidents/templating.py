"""The Jinja2 environment of the incidents' documents (notices, the post-incident report, the
drill report): templates in ``incidents/templates``, autoescaped, strict about names."""

from __future__ import annotations

from typing import Final

import jinja2

ENV: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("dealvault.incidents", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
