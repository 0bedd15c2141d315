"""Small "own data" sets written by the tests, as a user's data would look: their own class names, a class count
other than the demos', category ids that are not 1..N (COCO), a class with no instance in val, an image with no
annotation. Objects are flat shapes of a colour per class, so a tiny model learns them in a few iterations.
"""

import json
import os
import os.path as osp

import cv2
import numpy as np

# COCO: ids as a user's export may have them (not 1..N), names not in alphabetical order; 'kiwi' has no val instance.
COCO_CATEGORIES = [(3, 'zebra'), (7, 'apple'), (12, 'mango'), (40, 'kiwi')]
COCO_CLASSES = tuple(name for _, name in COCO_CATEGORIES)
SEG_CLASSES = ('sky', 'grass', 'road')  # on disk 0..2 (reduce_zero_label=False), 255 ignored; no 'road' in val
CLS_CLASSES = ('circle', 'cross', 'square')  # 'square' has no val image
COLOURS = [(230, 40, 40), (40, 200, 60), (40, 80, 230), (230, 200, 30)]


def _image(rng, h, w):
    return (rng.uniform(90, 150) + rng.normal(0, 8, (h, w, 3))).clip(0, 255).astype(np.uint8)


def write_coco(root, with_masks=True, num_train=12, num_val=6, size=(96, 128), seed=0):
    """``root/annotations/{train,val}.json`` and ``root/{train,val}/*.jpg``; returns the classes."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    ann_id = 1000
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, anns = [], []
        labels = range(len(COCO_CATEGORIES)) if split == 'train' else range(len(COCO_CATEGORIES) - 1)
        for i in range(count):
            h, w = size
            img, img_id = _image(rng, h, w), 500 + 3 * i
            name = f'{split}_{i:03d}.jpg'
            objects = [] if i == count - 1 else [int(rng.choice(list(labels))) for _ in range(rng.integers(1, 3))]
            for label in objects:
                bw, bh = int(rng.integers(w // 5, w // 2)), int(rng.integers(h // 5, h // 2))
                x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
                img[y : y + bh, x : x + bw] = COLOURS[label]
                ann = dict(
                    id=ann_id,
                    image_id=img_id,
                    category_id=COCO_CATEGORIES[label][0],
                    bbox=[x, y, bw, bh],
                    area=bw * bh,
                    iscrowd=0,
                )
                if with_masks:
                    ann['segmentation'] = [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]
                anns.append(ann)
                ann_id += 1
            cv2.imwrite(osp.join(root, split, name), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            images.append(dict(id=img_id, file_name=name, height=h, width=w))
        categories = [dict(id=i, name=n, supercategory='thing') for i, n in COCO_CATEGORIES]
        with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=anns, categories=categories), f)
    return COCO_CLASSES


def write_seg(root, num_train=8, num_val=4, size=(64, 80), seed=0):
    """``root/images/{train,val}/*.jpg`` and ``root/annotations/{train,val}/*.png`` (values 0..2, 255)."""
    rng = np.random.default_rng(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        for kind in ('images', 'annotations'):
            os.makedirs(osp.join(root, kind, split), exist_ok=True)
        for i in range(count):
            h, w = size
            label = np.zeros((h, w), np.uint8)  # sky
            horizon = int(rng.integers(h // 3, 2 * h // 3))
            label[horizon:] = 1  # grass
            if split == 'train':
                x = int(rng.integers(0, w // 2))
                label[horizon:, x : x + w // 3] = 2  # road
            label[horizon, :] = 255  # an ignored seam
            img = _image(rng, h, w)
            for value in range(3):
                img[label == value] = COLOURS[value]
            img = (img.astype(np.int16) + rng.normal(0, 10, img.shape)).clip(0, 255).astype(np.uint8)
            cv2.imwrite(osp.join(root, 'images', split, f'{i:04d}.jpg'), img[..., ::-1])
            cv2.imwrite(osp.join(root, 'annotations', split, f'{i:04d}.png'), label)
    return SEG_CLASSES


def write_cls(root, num_train=6, num_val=2, size=32, seed=0):
    """``root/{train,val}/<class>/*.jpg``; the last class has an empty val folder."""
    rng = np.random.default_rng(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        for label, name in enumerate(CLS_CLASSES):
            folder = osp.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            if split == 'val' and label == len(CLS_CLASSES) - 1:
                continue
            for i in range(count):
                img = _image(rng, size, size)
                c, r = size // 2 + int(rng.integers(-4, 5)), size // 4
                if name == 'circle':
                    cv2.circle(img, (c, c), r, COLOURS[label], -1)
                elif name == 'cross':
                    cv2.line(img, (c - r, c - r), (c + r, c + r), COLOURS[label], 3)
                    cv2.line(img, (c - r, c + r), (c + r, c - r), COLOURS[label], 3)
                else:
                    cv2.rectangle(img, (c - r, c - r), (c + r, c + r), COLOURS[label], -1)
                cv2.imwrite(osp.join(folder, f'{i:03d}.jpg'), img)
    return CLS_CLASSES


def jittered_predictions(coco, rng, label_of, jitter=0.1):
    """mmdet data samples of detections near every ground-truth box of a pycocotools ``COCO`` (moved by ``jitter``
    times their size) plus two false positives per image with random labels; ``label_of`` maps category ids to class
    indices. What AP tests feed to both mmdet's metric and COCOeval."""
    import torch  # the data writers above need no torch

    samples = []
    for img_id in coco.getImgIds():
        img = coco.imgs[img_id]
        boxes, labels = [], []
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img_id])):
            x, y, w, h = ann['bbox']
            boxes.append(np.array([x, y, x + w, y + h]) + rng.normal(0, jitter * max(w, h), 4))
            labels.append(label_of[ann['category_id']])
        for _ in range(2):
            x, y = rng.uniform(0, img['width'] - 20), rng.uniform(0, img['height'] - 20)
            boxes.append([x, y, x + 15, y + 15])
            labels.append(int(rng.integers(len(label_of))))
        samples.append(
            dict(
                img_id=img_id,
                ori_shape=(img['height'], img['width']),
                pred_instances=dict(
                    bboxes=torch.tensor(np.array(boxes), dtype=torch.float32),
                    scores=torch.tensor(rng.uniform(0.05, 1, len(boxes)), dtype=torch.float32),
                    labels=torch.tensor(labels),
                ),
            )
        )
    return samples
