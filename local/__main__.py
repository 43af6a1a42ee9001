import sys

from local.serve import main

sys.exit(main())
