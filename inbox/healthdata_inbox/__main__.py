"""`python -m healthdata_inbox` runs the same command as `healthdata-inbox`."""

import sys

from healthdata_inbox.cli import main

sys.exit(main())
