"""The custom-data templates (``configs/*/custom/``) and the box-only detectors (Faster R-CNN, Cascade R-CNN).

* a template's heads follow its class names: a copy with other names (and another count) builds heads of that
  count, with nothing else edited;
* the templates and box-only configs are thin deltas on the ConvNeXt-T recipes, whose backbone, optimiser and
  schedule they keep;
* the box-only detectors have no mask branch, load no masks, evaluate box AP only, and train a step on boxes.
"""

import os.path as osp
import re
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from test_detection_configs import build_on_meta, code_size

import convnext_dense  # noqa: F401  (registration)
import convnext_dense.datasets  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
# template: (the recipe it is a delta on, the keys holding num_classes)
TEMPLATES = {
    'detection/custom/mask_rcnn_convnext_t_custom.py': (
        'detection/mask_rcnn_convnext_t_1x.py',
        ['model.roi_head.bbox_head', 'model.roi_head.mask_head'],
    ),
    'detection/custom/faster_rcnn_convnext_t_custom.py': (
        'detection/faster_rcnn_convnext_t_1x.py',
        ['model.roi_head.bbox_head'],
    ),
    'segmentation/custom/upernet_convnext_t_custom.py': (
        'segmentation/upernet_convnext_t_512_160k_ade20k.py',
        ['model.decode_head', 'model.auxiliary_head'],
    ),
    'classification/custom/convnext_t_custom.py': ('classification/convnext_t_in1k.py', ['model']),
}
# box-only config: the mask config whose backbone recipe, schedule and data augmentation it keeps
BOX_ONLY = {
    'detection/faster_rcnn_convnext_t_1x.py': 'detection/mask_rcnn_convnext_t_1x.py',
    'detection/cascade_rcnn_convnext_t_3x.py': 'detection/cascade_convnext_t_3x.py',
}


def load(path: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, path))


def get(cfg, dotted: str):
    for key in dotted.split('.'):
        cfg = cfg[key]
    return cfg


def with_classes(path: str, classes: tuple, tmp_path) -> Config:
    """The template as a user edits it: a copy next to the original with only the ``classes = ...`` line changed."""
    with open(osp.join(CONFIGS, path)) as f:
        text = f.read()
    edited, n = re.subn(r'^classes = .*$', f'classes = {classes!r}', text, flags=re.M)
    assert n == 1, 'a template sets classes on one line'
    tree = shutil.copytree(CONFIGS, tmp_path / 'configs')  # a checkout's configs, where the user's copy sits
    copy = tree / osp.dirname(path) / 'my_data.py'
    copy.write_text(edited)
    return Config.fromfile(str(copy))


def test_every_template_and_box_only_config_is_listed():
    import glob

    found = {osp.relpath(p, CONFIGS) for p in glob.glob(osp.join(CONFIGS, '*', 'custom', '*.py'))}
    assert found == set(TEMPLATES)
    assert all(osp.isfile(osp.join(CONFIGS, p)) for p in BOX_ONLY)


@pytest.mark.parametrize('path', sorted(TEMPLATES) + sorted(BOX_ONLY))
def test_a_thin_delta(path):
    """Characters of code as the other config tests count them: a template is one editable block plus wiring."""
    assert code_size(osp.join(CONFIGS, path)) <= (1300 if 'custom/' in path else 700)
    cfg = load(path)
    assert 'convnext_dense' in cfg.custom_imports.imports and cfg.custom_imports.allow_failed_imports is False
    assert {'NonFiniteLossHook', 'RandomStateHook'} <= {h.type for h in cfg.custom_hooks}


@pytest.mark.parametrize('path', sorted(TEMPLATES))
def test_heads_follow_the_class_names(path, tmp_path):
    recipe, heads = TEMPLATES[path]
    cfg = load(path)
    assert all(get(cfg, key).num_classes == len(cfg.classes) for key in heads)
    names = ('ant', 'bee', 'cicada', 'dragonfly', 'earwig', 'flea', 'gnat')
    edited = with_classes(path, names, tmp_path)
    assert [get(edited, key).num_classes for key in heads] == [7] * len(heads)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = edited[loader].dataset
        assert tuple(ds.get('classes') or ds.metainfo.classes) == names, loader
        assert ds.data_root == edited.data_root, loader
    # everything else is the recipe's
    base = load(recipe)
    assert edited.model.backbone == base.model.backbone
    assert edited.get('param_scheduler') and edited.optim_wrapper.type == base.optim_wrapper.type
    if 'classification' not in path:
        assert edited.optim_wrapper == base.optim_wrapper and edited.param_scheduler == base.param_scheduler


def test_detection_template_evaluates_its_own_file():
    cfg = load('detection/custom/mask_rcnn_convnext_t_custom.py')
    assert cfg.val_evaluator.ann_file == cfg.data_root + 'annotations/val.json'
    assert cfg.test_evaluator.ann_file == cfg.val_evaluator.ann_file
    assert cfg.test_evaluator.outfile_prefix == '{log_dir}/coco_test'
    assert list(cfg.val_evaluator.metric) == ['bbox', 'segm']


def test_segmentation_template_wires_labels_one_way():
    """reduce_zero_label and ignore_index are set once: dataset, LoadAnnotations (from the dataset), heads, metric."""
    cfg = load('segmentation/custom/upernet_convnext_t_custom.py')
    for loader in ('train_dataloader', 'val_dataloader'):
        ds = cfg[loader].dataset
        assert ds.type == 'CheckedSegDataset' and ds.reduce_zero_label is False and ds.ignore_index == 255
        assert len(ds.metainfo.palette) == len(ds.metainfo.classes)
        loads = [t for t in ds.pipeline if t.type == 'LoadAnnotations']
        assert loads == [dict(type='LoadAnnotations', reduce_zero_label=None)]
    tta_load = cfg.tta_pipeline[1].transforms[2]
    assert tta_load == [dict(type='LoadAnnotations', reduce_zero_label=None)]
    assert cfg.model.decode_head.ignore_index == cfg.model.auxiliary_head.ignore_index == 255
    assert cfg.val_evaluator.ignore_index == 255


# ---------------------------------------------------------------------------------------------- box only
@pytest.mark.parametrize('path', sorted(BOX_ONLY))
def test_box_only_configs_keep_the_recipe_without_masks(path):
    cfg, masks = load(path), load(BOX_ONLY[path])
    assert cfg.model.type == {'detection/faster_rcnn_convnext_t_1x.py': 'FasterRCNN'}.get(path, 'CascadeRCNN')
    assert cfg.model.roi_head.get('mask_head') is None and cfg.model.roi_head.get('mask_roi_extractor') is None
    for key in ('backbone', 'neck', 'rpn_head'):
        assert cfg.model[key] == masks.model[key], key
    assert cfg.model.roi_head.bbox_head == masks.model.roi_head.bbox_head
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'auto_scale_lr'):
        assert cfg[key] == masks[key], key
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline, cfg.train_dataloader.dataset.pipeline):
        loads = [t for t in pipeline if t.type == 'LoadAnnotations']
        assert loads == [dict(type='LoadAnnotations', with_bbox=True, with_mask=False)]
    assert cfg.tta_pipeline[1].transforms[2] == [dict(type='LoadAnnotations', with_bbox=True, with_mask=False)]
    # the augmentation is the mask config's, transform by transform, but for the masks
    assert [t.type for t in cfg.train_pipeline] == [t.type for t in masks.train_pipeline]
    assert cfg.train_pipeline[3] == masks.train_pipeline[3]
    assert cfg.val_evaluator.metric == cfg.test_evaluator.metric == 'bbox'
    assert cfg.val_evaluator.classwise is True and cfg.test_evaluator.outfile_prefix == '{log_dir}/coco_test'


@pytest.mark.parametrize('path', sorted(BOX_ONLY))
def test_box_only_model_builds_and_trains_a_step_on_boxes(path):
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs

    init_default_scope('mmdet')
    cfg = load(path)
    cfg.model.backbone.init_cfg = None
    full = build_on_meta(cfg.model)
    assert not full.with_mask and tuple(full.backbone.out_channels) == tuple(cfg.model.neck.in_channels)
    torch.manual_seed(0)
    cfg.model.backbone.arch = dict(depths=[1, 1, 1, 1], dims=[96, 192, 384, 768])
    cfg.model.train_cfg.rpn_proposal.update(nms_pre=100, max_per_img=32)
    model = revert_sync_batchnorm(MODELS.build(cfg.model)).train()
    packed = demo_mm_inputs(batch_size=1, image_shapes=[(3, 64, 96)], num_items=[2], num_classes=80, with_mask=False)
    data = model.data_preprocessor(packed, True)
    loss, log_vars = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss) and not any('mask' in k for k in log_vars)
    loss.backward()
    assert next(model.backbone.parameters()).grad.abs().sum() > 0


# ---------------------------------------------------------------------------------- fine-tuning a detector
def test_load_from_a_detector_with_another_class_count(tmp_path, capsys):
    """mmdet's fine-tuning path (a COCO-trained detector as ``load_from``, the heads' class count changed): a
    checkpoint written by mmengine for a 5-class Mask R-CNN of the template, every tensor random, loads into the
    template edited to 3 classes through the Runner's own ``load_from``: every tensor of equal shape is the
    file's, the class-specific layers (classifier, box regression, mask logits) keep their fresh init, and
    mmengine names them in its size-mismatch warning (printed: the Runner passes no logger)."""
    from mmdet.registry import MODELS
    from mmengine.runner import Runner, save_checkpoint

    init_default_scope('mmdet')

    def build(classes):
        cfg = with_classes('detection/custom/mask_rcnn_convnext_t_custom.py', classes, tmp_path / str(len(classes)))
        cfg.model.backbone.update(arch=dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64]), init_cfg=None)
        return revert_sync_batchnorm(MODELS.build(cfg.model))

    torch.manual_seed(0)
    source = build(('a', 'b', 'c', 'd', 'e'))
    with torch.no_grad():
        for tensor in source.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.randn_like(tensor))
    ckpt = str(tmp_path / 'coco_detector.pth')
    save_checkpoint({'state_dict': source.state_dict(), 'meta': {'dataset_meta': {'classes': list('abcde')}}}, ckpt)

    target = build(('x', 'y', 'z'))
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    runner = Runner(model=target, work_dir=str(tmp_path / 'work'), load_from=ckpt, default_scope='mmdet')
    capsys.readouterr()
    runner.load_or_resume()
    warning = capsys.readouterr().out

    loaded, written = target.state_dict(), source.state_dict()
    mismatched = sorted(k for k in loaded if loaded[k].shape != written[k].shape)
    assert mismatched == [
        'roi_head.bbox_head.fc_cls.bias',
        'roi_head.bbox_head.fc_cls.weight',
        'roi_head.bbox_head.fc_reg.bias',
        'roi_head.bbox_head.fc_reg.weight',
        'roi_head.mask_head.conv_logits.bias',
        'roi_head.mask_head.conv_logits.weight',
    ]
    for key, tensor in loaded.items():
        expected = fresh[key] if key in mismatched else written[key]
        assert torch.equal(tensor, expected), key
    assert 'size mismatch' in warning and all(key in warning for key in mismatched), warning
