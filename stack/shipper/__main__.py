"""Entry point of the log shipper process.

A package of its own so that `python -m` runs it without importing `stack._shipper` twice (once as
`__main__`, once through `stack`'s own imports).
"""

import sys

from stack._shipper import main

sys.exit(main(sys.argv[1:]))
