# Copyright (c) mmbnn contributors. All rights reserved.
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .dense_heads import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .weight_init import (BinaryPretrainedInit,  # noqa: F401
                          load_binary_backbone)
