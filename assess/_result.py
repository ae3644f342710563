"""What every step returns: tables, figures and plain-language notes."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["StepResult"]


@dataclass
class StepResult:
    """The evidence one assessment step produced.

    Parameters
    ----------
    name : str
        The step's name (``"profile"``, ``"performance"``, ...); ids of its items
        are ``"<name>.<table or figure name>"``.
    tables : dict of str to pandas.DataFrame
        Tables by name.
    figures : dict of str to matplotlib.figure.Figure
        Figures by name.
    notes : list of str
        Warnings and remarks in plain words, for readers who do not program.
    captions : dict of str to str
        A one-line description of each table or figure, by name.

    Examples
    --------
    >>> import pandas as pd
    >>> r = StepResult("profile", tables={"columns": pd.DataFrame({"a": [1]})})
    >>> r.ids()
    ['profile.columns']
    """

    name: str
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    captions: dict = field(default_factory=dict)

    def ids(self):
        """Return the ids of this step's tables and figures, as answers cite them.

        Returns
        -------
        list of str
            ``"<step>.<name>"`` for every table, then every figure.
        """
        return [f"{self.name}.{k}" for k in [*self.tables, *self.figures]]

    def _repr_html_(self):
        # Shown when a notebook cell ends with a step's result: notes, tables, figures.
        from ._payload import figure_png_base64

        parts = [f"<h4>{html.escape(self.name)}</h4>"]
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes))
            parts.append("</ul>")
        for key, table in self.tables.items():
            caption = html.escape(self.captions.get(key, ""))
            parts.append(f"<p><code>{self.name}.{key}</code> {caption}</p>")
            parts.append(table.head(40).to_html(float_format=lambda v: f"{v:.3g}"))
        for key, fig in self.figures.items():
            caption = html.escape(self.captions.get(key, ""))
            parts.append(f"<p><code>{self.name}.{key}</code> {caption}</p>")
            parts.append(f'<img src="data:image/png;base64,{figure_png_base64(fig)}">')
        return "\n".join(parts)
