"""browse_dataset draws the ground truth after the pipeline: checked pixel by pixel against a flip done by hand."""

import json
import os.path as osp

import cv2
import numpy as np

from convnext_dense.analysis.browse import browse_dataset
from convnext_dense.apis import load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
W, H = 80, 64  # the fixed size the test pipelines resize to (the sets' images are 48 x 48)


def test_segmentation_labels_are_drawn_flipped_in_the_palette(synthetic_set, tmp_path):
    root = synthetic_set('ade', num_train=3, num_val=1, image_size=48, seed=0)
    cfg = load_config(osp.join(ROOT, 'configs/segmentation/demo/upernet_convnext_demo.py'), dict(data_root=root))
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='Resize', scale=(W, H), keep_ratio=False),
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='PackSegInputs'),
    ]
    files = browse_dataset(cfg, str(tmp_path / 'out'), max_images=2)
    assert [osp.basename(f) for f in files] == ['0000_ADE_train_00000001.png', '0001_ADE_train_00000002.png']
    from convnext_dense.datasets.synthetic.ade import SyntheticADE20KDataset

    palette = np.array(SyntheticADE20KDataset.METAINFO['palette'], dtype=np.float64)
    alpha = cfg.visualizer.get('alpha', 0.8)
    for i, drawn_file in enumerate(files):
        stem = f'ADE_train_{i + 1:08d}'
        image = cv2.imread(osp.join(root, 'images', 'training', stem + '.jpg'))[..., ::-1]
        label = cv2.imread(osp.join(root, 'annotations', 'training', stem + '.png'), cv2.IMREAD_UNCHANGED)
        image = cv2.resize(np.ascontiguousarray(image), (W, H), interpolation=cv2.INTER_LINEAR)[:, ::-1]
        label = cv2.resize(label, (W, H), interpolation=cv2.INTER_NEAREST)[:, ::-1].astype(np.int64) - 1  # 0: ignored
        colour = np.where((label >= 0)[..., None], palette[np.clip(label, 0, None)], 0.0)
        expected = (image * (1 - alpha) + colour * alpha).astype(np.uint8)
        drawn = cv2.imread(drawn_file)[..., ::-1]
        assert drawn.shape == (H, W, 3)
        close = (np.abs(drawn.astype(int) - expected).max(-1) <= 2).mean()
        unflipped = (np.abs(drawn.astype(int) - expected[:, ::-1]).max(-1) <= 2).mean()
        assert close > 0.8 > unflipped  # the class names cover a few pixels


def test_detection_boxes_are_drawn_where_the_flip_puts_them(synthetic_set, tmp_path):
    root = synthetic_set('coco', num_train=3, num_val=1, image_size=48, seed=0, empty_prob=0.0)
    cfg = load_config(osp.join(ROOT, 'configs/detection/demo/cascade_convnext_demo.py'), dict(data_root=root))
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(W, H), keep_ratio=False),
        dict(type='RandomFlip', prob=1.0),
        dict(type='PackDetInputs'),
    ]
    files = browse_dataset(cfg, str(tmp_path / 'out'), max_images=3)
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    names = {im['id']: im['file_name'] for im in coco['images']}
    for drawn_file in files:
        name = osp.basename(drawn_file)[5:-4]
        image_id = next(i for i, n in names.items() if osp.splitext(osp.basename(n))[0] == name)
        image = cv2.imread(osp.join(root, 'train', names[image_id]))[..., ::-1]
        image = cv2.resize(np.ascontiguousarray(image), (W, H), interpolation=cv2.INTER_LINEAR)[:, ::-1]
        drawn = cv2.imread(drawn_file)[..., ::-1]
        assert drawn.shape == (H, W, 3)
        changed = np.abs(drawn.astype(int) - image).max(-1) > 30
        sx, sy = W / 48, H / 48
        for ann in (a for a in coco['annotations'] if a['image_id'] == image_id):
            x, y, w, h = ann['bbox']
            x0, x1 = int(round(W - (x + w) * sx)), int(round(W - x * sx))  # flipped
            y0, y1 = int(round(y * sy)), int(round((y + h) * sy))
            # the box outline and the mask overlay change the box's pixels
            assert changed[y0:y1, x0:x1].mean() > 0.3, (name, ann['bbox'])
        assert changed.mean() < 0.9


def test_classification_samples_carry_their_class(synthetic_set, tmp_path):
    root = synthetic_set('cls', num_classes=2, num_train_per_class=2, num_val_per_class=2, image_size=32, seed=0)
    cfg = load_config(osp.join(ROOT, 'configs/classification/demo/convnext_demo.py'), dict(data_root=root))
    files = browse_dataset(cfg, str(tmp_path / 'out'), max_images=3, split='val')
    assert len(files) == 3
    size = cfg.val_dataloader.dataset.transform.input_size
    from mmengine.registry import DATASETS

    dataset = DATASETS.build(cfg.val_dataloader.dataset)  # the eval transform is deterministic: the same pixels
    for i, f in enumerate(files):
        drawn = cv2.imread(f)[..., ::-1].astype(int)
        fed = dataset[i]['inputs'].permute(1, 2, 0).numpy().astype(int)
        assert drawn.shape == fed.shape == (size, size, 3)
        # mmengine's Visualizer renders through matplotlib, which resamples a little: compare means. The class
        # name is drawn in the top rows; below it the image is the one the model is fed (not, e.g., flipped).
        diff = np.abs(drawn - fed)
        assert diff[:12].mean() > 10 > 5 > diff[16:].mean()
        assert np.abs(drawn - fed[:, ::-1])[16:].mean() > 10
