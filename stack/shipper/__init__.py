"""`python -m stack.shipper STATE_DIR`: the log shipper process (see `stack._shipper`)."""
