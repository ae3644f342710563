"""Prepared public-sector datasets with datasheets (the dataset registry issue fills this)."""
