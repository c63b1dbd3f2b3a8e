import sys

from evonorm.cli import main

sys.exit(main())
