# Copyright (c) mmbnn contributors. All rights reserved.
"""Two-int geometry arguments (kernel size, stride, image size, ...)."""
import operator
from typing import Sequence, Tuple, Union

IntPair = Union[int, Sequence[int]]


def to_pair(value: IntPair, name: str = 'value') -> Tuple[int, int]:
    """``value`` as two ints: an int is repeated, a pair converted.

    Args:
        value (int | Sequence[int]): An int or a tuple / list of two.
        name (str): The argument's name, for the error message.

    Raises:
        ValueError: Naming ``name`` if ``value`` is neither.
    """
    try:
        if isinstance(value, (tuple, list)):
            if len(value) == 2:
                return int(value[0]), int(value[1])
        else:
            value = operator.index(value)
            return value, value
    except (TypeError, ValueError):
        pass
    raise ValueError(f'{name} must be an int or a pair of ints, got '
                     f'{value!r}')
