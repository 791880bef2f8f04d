# Copyright (c) mmbnn contributors. All rights reserved.
"""Validation of config options, with errors that name the key and the
values it accepts."""
from typing import Iterable


def check_choice(key: str, value: str, allowed: Iterable[str]) -> str:
    """Raise a ``ValueError`` naming ``key`` and ``allowed`` if ``value`` is
    not one of them.

    Args:
        key (str): Name of the option, as a user writes it in a config.
        value (str): The value given.
        allowed (Iterable[str]): The values accepted.

    Returns:
        str: ``value`` unchanged.
    """
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(
            f'{key}={value!r} is not supported; allowed values: '
            f'{", ".join(map(repr, allowed))}')
    return value
