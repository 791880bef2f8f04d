# Copyright (c) mmbnn contributors. All rights reserved.
"""Module-tree helpers shared by the deploy conversions."""
from torch import nn


def set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace ``model``'s submodule ``name`` (dotted path) by ``module``."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)
