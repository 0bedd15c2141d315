"""Confusion matrix of a test run: detection (mmdet's definition) or segmentation (pixels), as PNG and CSV.

python tools/test.py configs/detection/demo/cascade_convnext_demo.py CKPT --out results.pkl
python tools/confusion_matrix.py configs/detection/demo/cascade_convnext_demo.py results.pkl --out-dir cm/
python tools/test.py configs/segmentation/demo/upernet_convnext_demo.py CKPT --out pred_masks/
python tools/confusion_matrix.py configs/segmentation/demo/upernet_convnext_demo.py pred_masks/ --out-dir cm/

Detection: rows are the ground-truth classes and background, columns the predictions (score >= --score-thr)
and background; a prediction counts for every ground-truth box it overlaps with IoU >= --tp-iou-thr.
Segmentation: pixel counts [ground truth, prediction], ignore_index left out. The PNG is normalised by row.
"""

import argparse
import sys

from mmengine.config import DictAction

import convnext_dense  # noqa: F401  (registers the datasets)
from convnext_dense.analysis.confusion import det_confusion_matrix, seg_confusion_matrix, write_matrix
from convnext_dense.apis import load_config
from convnext_dense.apis.cli import run_cli
from convnext_dense.errors import ConfigError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('results', help='detection: the --out .pkl of tools/test.py; segmentation: its --out folder')
    parser.add_argument('--out-dir', default='.', help='where confusion_matrix.png and .csv go (default: here)')
    parser.add_argument('--score-thr', type=float, default=0.3, help='detection: lowest score counted (0.3)')
    parser.add_argument('--tp-iou-thr', type=float, default=0.5, help='detection: IoU of a match (0.5)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config values')
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        matrix, labels = det_confusion_matrix(cfg, args.results, args.score_thr, args.tp_iou_thr)
    elif scope == 'mmseg':
        matrix, labels = seg_confusion_matrix(cfg, args.results)
    else:
        raise ConfigError(
            f'{args.config} has default_scope={scope!r}: confusion matrices are for detection (mmdet) and '
            f'segmentation (mmseg) configs'
        )
    files = write_matrix(matrix, labels, args.out_dir)
    corner = 'gt \\ pred'
    width = max(len(x) for x in labels + [corner])
    print(f'{corner:>{width}} ' + ' '.join(f'{x[:8]:>8}' for x in labels))
    for label, row in zip(labels, matrix):
        print(f'{label:>{width}} ' + ' '.join(f'{int(v):>8}' for v in row))
    print('written: ' + ', '.join(files))


if __name__ == '__main__':
    sys.exit(run_cli(main))
