"""Make the tests import the installed copy of ``ai4scale``, never the checkout's folder.

``python -m pytest`` in the checkout puts the checkout first on ``sys.path``,
where its ``ai4scale/`` folder alone (``hub/``, ``datasets/`` and ``grading/``
are mapped into the installed package) would shadow the copy that the hub,
the course service and learners' kernels run. ``conftest.py`` imports this
module before anything imports ``ai4scale``; ``./sandbox install`` refreshes
the copy. ``PYTHONSAFEPATH`` does the same for the Python processes the tests
start (``python -m ai4scale grade ...`` in the checkout).
"""

import os
import sys

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

os.environ["PYTHONSAFEPATH"] = "1"
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != CHECKOUT]
for _name in [n for n in sys.modules if n == "ai4scale" or n.startswith("ai4scale.")]:
    if (getattr(sys.modules[_name], "__file__", None) or "").startswith(CHECKOUT + os.sep):
        del sys.modules[_name]
