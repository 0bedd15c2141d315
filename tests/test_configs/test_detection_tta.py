"""``tools/test.py --tta`` on every detection config family: Mask R-CNN and Cascade Mask R-CNN, with
ConvNeXt and Swin, paper configs and demos, through the config's own ``tta_pipeline`` (flip
included) and ``tta_model``, as the Runner's test loop feeds them.

The configs' TTA scales are replaced by small ones (same transforms, flip unchanged) and large
backbones get fewer blocks, so that a CPU runs each in seconds. The RoI heads' score threshold is 0 so
that an untrained detector predicts boxes and masks: with none, the mask branch (where Cascade Mask
R-CNN's ``--tta`` used to fail on flipped views) would never run.
"""

import copy
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS, TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope

import convnext_dense  # noqa: F401
from convnext_dense.datasets.synthetic import generate_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET = osp.join(ROOT, 'configs', 'detection')
FAMILIES = [
    'cascade_convnext_t_3x.py',
    'mask_rcnn_convnext_t_3x.py',
    'cascade_swin_t_3x.py',
    'demo/cascade_convnext_demo.py',
    'demo/mask_rcnn_convnext_demo.py',
]


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    init_default_scope('mmdet')
    info = generate_coco(
        str(tmp_path_factory.mktemp('coco')), num_train=1, num_val=1, image_size=(72, 96), empty_prob=0.0
    )
    return info['val']


def _small_tta_pipeline(cfg):
    pipeline = copy.deepcopy(cfg.tta_pipeline)
    tta = pipeline[-1]
    assert tta.type == 'TestTimeAug'
    resizes, flips = tta.transforms[0], tta.transforms[1]
    assert sorted(f.prob for f in flips) == [0.0, 1.0], 'the TTA views must include a flipped one'
    tta.transforms[0] = [dict(resizes[0], scale=(128, 96)), dict(resizes[-1], scale=(96, 72))]
    return pipeline


def _tiny(model_cfg):
    backbone = model_cfg.backbone
    if backbone.type == 'SwinTransformer':
        backbone.depths = [1, 1, 1, 1]
    elif isinstance(backbone.arch, str):
        from convnext_dense.models.convnext import ARCH_SETTINGS

        backbone.arch = dict(ARCH_SETTINGS[backbone.arch], depths=[1, 1, 1, 1])
    backbone.init_cfg = None
    model_cfg.test_cfg.rpn.update(nms_pre=100, max_per_img=30)
    rcnn = model_cfg.test_cfg.rcnn
    rcnn.score_thr = 0.0  # an untrained detector's scores are ~1/num_classes: keep its boxes
    rcnn.max_per_img = 10
    return model_cfg


@pytest.mark.parametrize('config', FAMILIES)
def test_tta_with_flip_predicts_masks(config, image):
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(DET, config))
    detector = revert_sync_batchnorm(MODELS.build(_tiny(cfg.model))).eval()
    tta_model = MODELS.build(dict(cfg.tta_model, module=detector)).eval()
    tta_model.tta_cfg.max_per_img = 15
    pipeline = Compose([TRANSFORMS.build(t) for t in _small_tta_pipeline(cfg)])
    with open(image['ann_file']) as f:
        import json

        coco = json.load(f)
    first = coco['images'][0]
    anns = [a for a in coco['annotations'] if a['image_id'] == first['id']]
    sample = dict(
        img_path=osp.join(image['img_dir'], first['file_name']),
        img_id=first['id'],
        height=first['height'],
        width=first['width'],
        instances=[
            dict(
                bbox=[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3]],
                bbox_label=a['category_id'] - 1,
                ignore_flag=0,
                mask=a['segmentation'],
            )
            for a in anns
        ],
    )
    views = pipeline(sample)
    assert any(s.metainfo['flip'] for s in views['data_samples'])
    with torch.no_grad():
        (result,) = tta_model.test_step(pseudo_collate([views]))
    pred = result.pred_instances
    assert 10 < len(pred) <= 15, 'boxes of several views are merged, up to max_per_img'
    assert pred.masks.shape[-2:] == (first['height'], first['width'])
    assert pred.bboxes[:, 2].max() <= first['width'] + 1e-3 and pred.bboxes[:, 0].min() >= -1e-3
    assert result.metainfo['flip'] in (True, False)  # the merged sample keeps its metainfo
