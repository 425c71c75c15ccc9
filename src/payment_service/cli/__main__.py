"""``python -m payment_service.cli``."""

import sys

from payment_service.cli import main

sys.exit(main())
