# Copyright (c) mmbnn contributors. All rights reserved.
from .binary_ssd_vgg import BinarySSDVGG, ConvPostProcess
from .bireal_resnet import BiRealResNet

__all__ = ['BiRealResNet', 'BinarySSDVGG', 'ConvPostProcess']
