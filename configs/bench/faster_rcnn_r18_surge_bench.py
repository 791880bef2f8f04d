# SURGE on GlyphBench: every binary conv of backbone and neck gets the
# full-precision auxiliary branch; SURGEHook sets eta and logs lambda.
_base_ = ['./faster_rcnn_r18_ste_bench.py', '../_base_/surge.py']

model = {{_base_.surge_model_overrides}}
custom_hooks = [{{_base_.surge_hook}}]
