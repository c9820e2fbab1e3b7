"""`make bench`: speed goals measured side by side in one run, never asserted inside tests."""
