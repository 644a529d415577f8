"""Job functions and the in-process runner that drives them."""
