import sys

from trpo.cli import main

sys.exit(main())
