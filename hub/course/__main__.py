"""``python -m ai4scale.hub.course``: run the course service (see ``_app.main``)."""

import sys

from ._app import main

sys.exit(main())
