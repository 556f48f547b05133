"""MkDocs hook: the package's docstrings use Sphinx cross-reference roles (``:func:`name```), which
mkdocstrings renders literally; drop the role so the name shows as code."""

import re

_ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|exc|obj|py:\w+):(?=<code>)")


def on_page_content(html, **kwargs):
    return _ROLE.sub("", html)
