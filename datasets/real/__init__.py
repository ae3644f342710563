"""Cleaning code of the real datasets: one module per dataset id (``-`` → ``_``).

Each module exposes ``prepare(raw: bytes) -> pandas.DataFrame``, turning the
bytes of the member file named in the card into the documented columns.
"""
