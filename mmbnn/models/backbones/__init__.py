# Copyright (c) mmbnn contributors. All rights reserved.
from .binary_resnet import BinaryResNet
from .binary_ssd_vgg import BinarySSDVGG, ConvPostProcess
from .bireal_resnet import BiRealResNet

__all__ = ['BiRealResNet', 'BinaryResNet', 'BinarySSDVGG', 'ConvPostProcess']
