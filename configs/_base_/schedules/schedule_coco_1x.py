# mmdet's COCO 1x schedule: 12 epochs, SGD lr 0.02 for a total batch of 16,
# steps at 8 and 11 (auto_scale_lr.base_batch_size = 16).
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'
