"""Randomly corrupted COCO annotation files and segmentation label maps: each ends in a clean user error that names
the file, or in a load whose every box / label pixel is the file's (checked against an oracle that reads the file
itself), never in another exception and never in silently wrong data.

Seeded: the same files every run. The counts per outcome are printed (``pytest -s``) and asserted per category:
corruptions that cannot be loaded correctly must be errors, harmless ones must load.
"""

import copy
import json
import math
import os
import os.path as osp
from collections import Counter
from functools import partial

import cv2
import numpy as np
from mmengine.registry import init_default_scope
from PIL import Image

import convnext_dense  # noqa: F401
from convnext_dense.errors import UserError

NUM_COCO, NUM_SEG = 160, 100
CLASSES = ('zebra', 'apple', 'mango')
BAD_VALUES = [None, 'x', -5, 1e12, float('nan'), float('inf'), [], {}, True, [1, 2, 3], 2.5]


# ------------------------------------------------------------------------------------------------------- COCO
def coco_base(root):
    """Three 40x48 images on disk, a valid file: polygons, a crowd box, an image without annotations."""
    os.makedirs(osp.join(root, 'img'), exist_ok=True)
    images, anns = [], []
    for i in range(3):
        cv2.imwrite(osp.join(root, 'img', f'{i}.png'), np.full((40, 48, 3), 30 * i, np.uint8))
        images.append(dict(id=10 + i, file_name=f'{i}.png', height=40, width=48))
    for j, (img, cat, box) in enumerate([(10, 2, [2, 3, 20, 10]), (10, 5, [10, 10, 30, 25]), (11, 9, [0, 0, 48, 40])]):
        x, y, w, h = box
        anns.append(
            dict(
                id=100 + j,
                image_id=img,
                category_id=cat,
                bbox=box,
                area=w * h,
                iscrowd=int(j == 2),
                segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]],
            )
        )
    cats = [dict(id=2, name='zebra'), dict(id=5, name='apple'), dict(id=9, name='mango')]  # ids not 1..N
    return dict(images=images, annotations=anns, categories=cats)


def mutate_coco(coco, rng):
    """One random corruption; returns (text to write, kind)."""
    coco = copy.deepcopy(coco)
    kind = rng.choice(
        ['truncate', 'bad_value', 'drop_key', 'drop_section', 'box', 'ids', 'image_size', 'not_a_dict', 'mask']
    )
    if kind == 'truncate':
        text = json.dumps(coco)
        return text[: int(rng.integers(0, len(text) - 1))], kind
    if kind == 'not_a_dict':
        return json.dumps(coco['annotations']), kind
    if kind == 'drop_section':
        del coco[rng.choice(sorted(coco))]
    elif kind in ('bad_value', 'drop_key'):
        section = rng.choice(['images', 'annotations', 'categories'])
        entry = coco[section][int(rng.integers(len(coco[section])))]
        key = rng.choice(sorted(entry))
        if kind == 'drop_key':
            del entry[key]
        else:
            entry[key] = BAD_VALUES[int(rng.integers(len(BAD_VALUES)))]
    elif kind == 'box':
        ann = coco['annotations'][int(rng.integers(len(coco['annotations'])))]
        i = int(rng.integers(4))
        ann['bbox'][i] = [-30.0, -1.0, 0.0, float('nan'), float('inf'), 500.0, 0.5][int(rng.integers(7))]
    elif kind == 'ids':
        ann = coco['annotations'][int(rng.integers(len(coco['annotations'])))]
        key = rng.choice(['category_id', 'image_id', 'id'])
        ann[key] = [0, -1, 999, 100, 10][int(rng.integers(5))]  # unknown, negative, out of range, duplicate
    elif kind == 'image_size':
        img = coco['images'][int(rng.integers(len(coco['images'])))]
        img[rng.choice(['height', 'width'])] = int(rng.integers(1, 100))
    elif kind == 'mask':
        ann = coco['annotations'][int(rng.integers(len(coco['annotations'])))]
        ann['segmentation'] = [
            [],
            [[1, 2, 3]],
            [1, 2, 3, 4, 5, 6],
            [['a', 1, 2, 3, 4, 5]],
            {'counts': 'x'},
            {'size': [40, 48], 'counts': [-1]},
            'polygon',
            [[0, 0, float('nan'), 1, 2, 2]],
        ][int(rng.integers(8))]
    return json.dumps(coco), kind


def expected_boxes(coco, img_id):
    """The oracle: (boxes xyxy, labels, crowd flags) mmdet must give for an image, read from the file by name."""
    img = next(i for i in coco['images'] if i['id'] == img_id)
    names = {c['id']: c['name'] for c in coco['categories']}
    out = []
    for ann in coco.get('annotations', []):  # a file without annotations is an image list (a test set)
        if ann['image_id'] != img_id or names.get(ann['category_id']) not in CLASSES:
            continue
        x, y, w, h = ann['bbox']
        inside = max(0, min(x + w, img['width']) - max(x, 0)) * max(0, min(y + h, img['height']) - max(y, 0))
        if inside == 0 or ann['area'] <= 0 or w < 1 or h < 1:
            continue  # skipped, as COCO and mmdet do (reported as a warning)
        # mmdet makes an annotation whose polygons are all degenerate (< 3 points) an ignored region (crowd-like)
        segm = ann.get('segmentation')
        degenerate = isinstance(segm, list) and not any(len(p) % 2 == 0 and len(p) >= 6 for p in segm)
        box = [float(v) for v in (x, y, x + w, y + h)]
        out.append((box, CLASSES.index(names[ann['category_id']]), bool(ann.get('iscrowd')) or degenerate))
    return out


def load_all_coco(root, ann_file):
    from mmdet.registry import DATASETS

    ds = DATASETS.build(
        dict(
            type='CheckedCocoDataset',
            data_root=root,
            ann_file=ann_file,
            data_prefix=dict(img='img/'),
            metainfo=dict(classes=CLASSES),
            test_mode=True,
            serialize_data=False,  # mmengine's serialisation runs gc.collect(): 0.7 s a dataset
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                dict(type='PackDetInputs'),
            ],
        )
    )
    return [ds[i]['data_samples'] for i in range(len(ds))]


def check_coco_load(text, samples):
    """None if every image's boxes, labels and masks are the file's, else what differs."""
    coco = json.loads(text)
    if sorted(s.img_id for s in samples) != sorted(i['id'] for i in coco['images']):
        return 'images'
    for s in samples:
        got = [(b, int(label), False) for b, label in zip(s.gt_instances.bboxes.tensor.tolist(), s.gt_instances.labels)]
        got += [
            (b, int(label), True)
            for b, label in zip(s.ignored_instances.bboxes.tensor.tolist(), s.ignored_instances.labels)
        ]
        want = expected_boxes(coco, s.img_id)
        if sorted(map(repr, got)) != sorted(map(repr, [(b, label, c) for b, label, c in want])):
            return f'boxes of image {s.img_id}: {got} != {want}'
        if len(s.gt_instances.masks) != len(s.gt_instances):
            return f'masks of image {s.img_id}'
        if tuple(s.ori_shape) != (40, 48):
            return 'image size'
    return None


# -------------------------------------------------------------------------------------------- segmentation
SEG_CLASSES = ('sky', 'grass', 'road')


def seg_base(root):
    rng = np.random.default_rng(0)
    for kind in ('img', 'ann'):
        os.makedirs(osp.join(root, kind), exist_ok=True)
    for i in range(3):
        cv2.imwrite(osp.join(root, 'img', f'{i}.jpg'), rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
        label = rng.integers(0, 3, (24, 32)).astype(np.uint8)
        label[0] = 255
        Image.fromarray(label).save(osp.join(root, 'ann', f'{i}.png'))


def mutate_seg(root, rng):
    """Corrupt one label map (or image) of ``root`` in place; returns the kind."""
    i = int(rng.integers(3))
    path = osp.join(root, 'ann', f'{i}.png')
    label = np.asarray(Image.open(path))
    kind = rng.choice(['truncate', 'garbage', 'empty', 'value', 'rgb', 'size', 'uint16', 'palette', 'missing', 'ok'])
    if kind == 'truncate':
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[: int(rng.integers(1, len(data) - 1))])
    elif kind == 'garbage':
        open(path, 'wb').write(rng.integers(0, 255, int(rng.integers(1, 300)), dtype=np.uint8).tobytes())
    elif kind == 'empty':
        open(path, 'wb').close()
    elif kind == 'value':
        bad = label.copy()
        bad[int(rng.integers(1, 24)), int(rng.integers(32))] = int(rng.choice([3, 4, 200, 254]))
        Image.fromarray(bad).save(path)
    elif kind == 'rgb':
        Image.fromarray(np.stack([label] * 3, -1)).save(path)
    elif kind == 'size':
        h, w = [(24, 31), (23, 32), (32, 24), (48, 64)][int(rng.integers(4))]
        Image.fromarray(cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST)).save(path)
    elif kind == 'uint16':
        wide = label.astype(np.uint16)
        if rng.random() < 0.5:
            wide[5, 5] = 300  # a value uint8 would wrap to 44
        cv2.imwrite(path, wide)  # a 16-bit PNG
    elif kind == 'palette':  # a P-mode PNG of the same indices (colours for viewing): a correct label
        img = Image.fromarray(label).convert('P')
        img.putpalette([v for c in range(256) for v in (c, 255 - c, c // 2)])
        img.save(path)
    elif kind == 'missing':
        os.remove(path)
    return kind


def load_all_seg(root):
    from mmseg.registry import DATASETS

    ds = DATASETS.build(
        dict(
            type='CheckedSegDataset',
            data_root=root,
            data_prefix=dict(img_path='img', seg_map_path='ann'),
            metainfo=dict(classes=SEG_CLASSES, palette=[(0, 0, 0), (0, 255, 0), (128, 128, 128)]),
            serialize_data=False,
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')],
        )
    )
    return [ds[i]['data_samples'] for i in range(len(ds))]


def check_seg_load(samples):
    """None if every label map is the file's, pixel for pixel, at its image's size, with values in range."""
    for s in samples:
        with Image.open(s.seg_map_path) as png:
            want = np.asarray(png)
        got = s.gt_sem_seg.data[0].numpy()
        img_hw = cv2.imread(s.img_path).shape[:2]
        if want.shape != got.shape or not np.array_equal(want, got) or got.shape != img_hw:
            return f'{s.seg_map_path}: loaded labels differ from the file'
        if not set(np.unique(got).tolist()) <= {0, 1, 2, 255}:
            return f'{s.seg_map_path}: values {np.unique(got).tolist()}'
    return None


# ------------------------------------------------------------------------------------------------- the runs
def outcome(load, check, needles):
    """``(result, detail)``: 'error' (a user error naming one of ``needles``), 'loaded' (and ``check`` passed), or a
    finding: 'error without the file', 'traceback' (any other exception), 'silently wrong'."""
    try:
        loaded = load()
    except UserError as e:
        return ('error', None) if any(n in str(e) for n in needles) else ('error without the file', str(e))
    except Exception as e:  # noqa: BLE001 (what the fuzz is for: any other exception is a finding)
        return 'traceback', f'{type(e).__name__}: {e}'
    wrong = check(loaded)
    return ('loaded', None) if wrong is None else ('silently wrong', wrong)


def report(name, counts, findings):
    print(f'\n{name}: ' + ', '.join(f'{k} {v}' for k, v in sorted(counts.items())))
    for finding in findings[:10]:
        print('  ', finding)


def test_fuzzed_coco_files_end_in_a_named_error_or_a_correct_load(tmp_path):
    init_default_scope('mmdet')
    root = str(tmp_path)
    base = coco_base(root)
    counts, by_kind, findings = Counter(), Counter(), []
    for seed in range(NUM_COCO):
        rng = np.random.default_rng(seed)
        text, kind = mutate_coco(base, rng)
        if rng.random() < 0.3:  # a second corruption on top
            try:
                text, _ = mutate_coco(json.loads(text), rng)
            except (ValueError, TypeError, KeyError, IndexError):
                pass  # the first corruption left nothing the second can corrupt
        ann_file = osp.join(root, f'fuzz_{seed}.json')
        with open(ann_file, 'w') as f:
            f.write(text)

        result, detail = outcome(
            partial(load_all_coco, root, ann_file),
            partial(check_coco_load, text),
            [ann_file, osp.join(root, 'img', '')],
        )
        counts[result] += 1
        by_kind[(kind, result)] += 1
        if detail and result != 'error':
            findings.append(f'seed {seed} ({kind}): {result}: {detail}')
    report(f'COCO, {NUM_COCO} corrupted files', counts, findings)
    print('   by corruption:', dict(sorted(by_kind.items())))
    assert not findings, findings[:5]
    assert counts['error'] + counts['loaded'] == NUM_COCO
    # what cannot load is an error; a box outside its image (skipped), a file without "annotations" (a test set),
    # a degenerate polygon (an ignored region), an unknown category (not used) load, as the oracle says
    for kind in ('truncate', 'not_a_dict'):
        assert by_kind[(kind, 'loaded')] == 0, kind
    assert by_kind[('truncate', 'error')] > 5 and by_kind[('box', 'loaded')] > 5
    assert counts['loaded'] > 10 and counts['error'] > 60


def test_fuzzed_label_maps_end_in_a_named_error_or_a_correct_load(tmp_path):
    init_default_scope('mmseg')
    counts, by_kind, findings = Counter(), Counter(), []
    for seed in range(NUM_SEG):
        rng = np.random.default_rng(10_000 + seed)
        root = str(tmp_path / f'seg_{seed}')
        seg_base(root)
        kind = mutate_seg(root, rng)
        result, detail = outcome(partial(load_all_seg, root), check_seg_load, [osp.join(root, '')])
        counts[result] += 1
        by_kind[(kind, result)] += 1
        if detail and result != 'error':
            findings.append(f'seed {seed} ({kind}): {result}: {detail}')
    report(f'label maps, {NUM_SEG} corrupted sets', counts, findings)
    print('   by corruption:', dict(sorted(by_kind.items())))
    assert not findings, findings[:5]
    for kind in ('truncate', 'garbage', 'empty', 'value', 'rgb', 'size', 'missing'):
        assert by_kind[(kind, 'loaded')] == 0, kind
    for kind in ('ok', 'palette'):
        assert by_kind[(kind, 'error')] == 0, kind
    assert counts['loaded'] >= 10 and counts['error'] >= 50
    assert math.isclose(sum(counts.values()), NUM_SEG)
