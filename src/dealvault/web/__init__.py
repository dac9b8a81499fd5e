"""The web data room: every party's pages (Jinja2 + htmx) over the same flows as the CLI and
the API, in Chinese and English."""
