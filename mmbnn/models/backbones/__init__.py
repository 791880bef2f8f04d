# Copyright (c) mmbnn contributors. All rights reserved.
# the *_fusion modules register the backbones' deploy fusion rules
from . import binary_ssd_vgg_fusion, bireal_resnet_fusion  # noqa: F401
from .binary_resnet import BinaryResNet
from .binary_ssd_vgg import BinarySSDVGG, ConvPostProcess
from .bireal_resnet import BiRealResNet

__all__ = ['BiRealResNet', 'BinaryResNet', 'BinarySSDVGG', 'ConvPostProcess']
