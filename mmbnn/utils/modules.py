# Copyright (c) mmbnn contributors. All rights reserved.
"""Module-tree helpers: submodule replacement and wrapper removal."""
from mmengine.model import is_model_wrapper
from torch import nn


def set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace ``model``'s submodule ``name`` (dotted path) by ``module``."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def unwrap_model(model: nn.Module) -> nn.Module:
    """``model.module`` of a DDP-style wrapper (any registered
    ``MODEL_WRAPPERS`` type), any other model as it is."""
    return model.module if is_model_wrapper(model) else model
