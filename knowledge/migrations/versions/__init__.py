"""The revision chain, oldest first: 0001..0006 are the former named steps."""
