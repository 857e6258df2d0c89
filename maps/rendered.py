"""Rendered map text is never compiled as a template again (a security fix, and 0.75 s a large map).

branca, under every folium map, renders each element with its Jinja2 template and then wraps
the *output* in a new ``branca.element.Element(output)``, whose constructor compiles that
output as a Jinja2 template, and renders it again when the page is put together. So any
text that reached a map (a household's address, a station's or a cell's name from an
imported file) was evaluated as a template on the server: ``{{ 7*7 }}`` in a name came out
as ``49``, and ``{{ cycler.__init__.__globals__.os.popen('id').read() }}`` would run a
command. HTML escaping does not help (braces are not HTML). It also cost time: lexing the
2.7 MB of the overview's GeoJSON as a template took about 0.75 s of every map render at
1,000,000 households (py-spy, ``bench/app.py``).

:func:`install` (run when :mod:`maps` is imported) makes ``Element(text)`` hold ``text`` as
already rendered, exactly as Jinja2 would render a template without any tag (newlines
normalised, one trailing newline dropped), so the output is byte for byte what it was for
every text that held no ``{{``, ``{%`` or ``{#``. The one template branca itself passes that
way (:data:`TEMPLATES`, the children of a ``Div``) is still compiled.
``tests/test_map_templates.py`` holds both, and puts hostile names through every map.

Examples
--------
>>> import branca.element
>>> install()
>>> branca.element.Element("X{{ 7*7 }}Y").render()
'X{{ 7*7 }}Y'
"""

from __future__ import annotations

import re
import types
from typing import Any

import branca.element

__all__ = ["TEMPLATES", "Rendered", "install"]

#: Strings branca passes to ``Element`` that are meant as templates (``branca.element.Div``).
TEMPLATES = frozenset({
    "{% for name, element in this._children.items() %}{{element.render(**kwargs)}}{% endfor %}",
})

_NEWLINES = re.compile(r"\r\n|\r|\n")
_ORIGINAL_INIT = branca.element.Element.__init__


class Rendered:
    """Text that stands where a ``jinja2.Template`` would and renders to itself.

    As Jinja2 renders a template without tags: ``\\r\\n`` and ``\\r`` become ``\\n`` and one
    trailing newline is dropped (``keep_trailing_newline=False``).

    >>> Rendered("a\\r\\nb\\n").render(this=None)
    'a\\nb'
    """

    __slots__ = ("module", "text")

    def __init__(self, text: str) -> None:
        text = _NEWLINES.sub("\n", text)
        self.text = text[:-1] if text.endswith("\n") else text
        self.module = types.SimpleNamespace()  # no macros: MacroElement.render finds none

    def render(self, *args: Any, **kwargs: Any) -> str:
        return self.text


def _init(self: branca.element.Element, template: str | None = None, template_name: str | None = None) -> None:
    if template is None or template in TEMPLATES:
        _ORIGINAL_INIT(self, template, template_name)
        return
    _ORIGINAL_INIT(self, None, template_name)
    self._template_str = template
    self._template = Rendered(str(template))  # type: ignore[assignment]


def install() -> None:
    """Make ``branca.element.Element(text)`` keep ``text`` as rendered (idempotent)."""
    branca.element.Element.__init__ = _init  # type: ignore[method-assign]
