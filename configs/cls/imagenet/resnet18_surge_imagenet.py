# SURGE on resnet18_ste_imagenet.py: a full-precision auxiliary branch on every
# binary conv, SURGEHook sets eta and logs lambda.
_base_ = ['./resnet18_ste_imagenet.py', '../../_base_/surge.py']
model = {{_base_.surge_backbone_overrides}}
custom_hooks = [{{_base_.surge_hook}}]
