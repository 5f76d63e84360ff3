import sys

from ewc.cli import main

sys.exit(main())
