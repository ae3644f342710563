"""``python -m ai4scale.hub.forkserver ROLE --socket PATH``: run a zygote."""

import sys

from ._zygote import main

sys.exit(main())
