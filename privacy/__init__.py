"""Privacy helpers shared by every layer (no imports from actions/, channels/,
stores/ or console/): the masker of personal data (masking.py, its patterns in
patterns.py, numbers however typed in numbers.py)."""
