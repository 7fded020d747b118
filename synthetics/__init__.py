"""Probing, matching and diagnosis shared by the checks and the fixtures."""
