"""Test doubles of real backends, as observed: what the suite must judge rightly on a team's first run."""
