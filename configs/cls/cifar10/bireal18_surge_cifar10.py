# SURGE on bireal18_ste_cifar10.py: a full-precision auxiliary branch on every
# binary conv, SURGEHook sets eta and logs lambda.
_base_ = ['./bireal18_ste_cifar10.py', '../../_base_/surge.py']
model = {{_base_.surge_backbone_overrides}}
custom_hooks = [{{_base_.surge_hook}}]
