"""The one HTML page shell every report of the kit uses.

The kit writes self-contained pages a person opens from disk: ``build/index.html`` (the
executed notebooks), a batch's ``report.html`` and the homework's class report and
feedback pages. They share one stylesheet and one skeleton so they look like one product
and a fix to the layout lands everywhere. Callers build the body from escaped pieces;
:func:`html_page` escapes the title itself.
"""

from __future__ import annotations

import html

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ddd;padding:.35em .6em;vertical-align:top;text-align:left}
th{background:#f3f3f3}
img{max-width:100%}
code{font-size:90%}
.scroll{overflow-x:auto}
.muted{color:#666}
.ok,.right{color:#17702b;font-weight:bold}
.bad,.wrong{color:#b00020;font-weight:bold}
.warn{background:#fff4ce;padding:.6em 1em;border-left:4px solid #e0a800}
.banner{background:#eef4ff;padding:.6em 1em;border-left:4px solid #3b6fd8}
.err{font-weight:normal;color:#555;max-width:30rem;white-space:pre-wrap}
"""


def html_page(title: str, body: str, *, style: str = "") -> str:
    """Return a complete HTML document: the shared style (plus ``style``), the title, ``body``.

    Args:
        title: plain text; escaped here and shown both as the tab title and as the heading.
        body: HTML the caller has already escaped where it holds user data.
        style: extra CSS rules for this page only.
    """
    head_title = html.escape(title)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{head_title}</title><style>{STYLE}{style}</style></head><body>\n"
        f"<h1>{head_title}</h1>\n{body}\n</body></html>\n"
    )
