"""Shared tail of the notebook builders: make the notebook, execute it beside this file, write it."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient


def build(cells: list[tuple[str, str]], name: str, timeout: int = 3600) -> Path:
    """``cells``: ("md" | "code", source) pairs. Executes in notebooks/ and writes ``name``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(s) if k == "md" else nbformat.v4.new_code_cell(s) for k, s in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    here = Path(__file__).parent
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(here)}}).execute()
    nbformat.write(nb, here / name)
    print("wrote", here / name)
    return here / name
