"""Draw the ground truth after the training pipeline's transforms, to see what the model is fed.

python tools/browse_dataset.py configs/detection/demo/cascade_convnext_demo.py --out-dir browse/ --max-images 8
python tools/browse_dataset.py configs/segmentation/demo/upernet_convnext_demo.py --out-dir browse_seg/
python tools/browse_dataset.py configs/classification/demo/convnext_demo.py --split val --out-dir browse_cls/

Detection: boxes, masks and class names; segmentation: the label map in the dataset's palette;
classification: the class name. Wrong class ids, flipped masks and empty crops show here before training.
"""

import argparse
import sys

from mmengine.config import DictAction

import convnext_dense  # noqa: F401  (registers the datasets and transforms)
from convnext_dense.analysis.browse import browse_dataset
from convnext_dense.apis import load_config
from convnext_dense.apis.cli import run_cli
from convnext_dense.errors import ConfigError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--out-dir', default='browse', help='where the drawn images go (default browse/)')
    parser.add_argument('--max-images', type=int, default=20, help='how many samples (default 20)')
    parser.add_argument('--split', choices=('train', 'val', 'test'), default='train', help='which dataloader')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config values')
    args = parser.parse_args(argv)
    if args.max_images < 1:
        raise ConfigError(f'--max-images {args.max_images}: draw at least 1 image')
    cfg = load_config(args.config, args.cfg_options)
    if f'{args.split}_dataloader' not in cfg:
        raise ConfigError(f'{args.config} has no {args.split}_dataloader: choose another --split')
    written = browse_dataset(cfg, args.out_dir, args.max_images, args.split)
    print(f'{len(written)} images drawn into {args.out_dir}')


if __name__ == '__main__':
    sys.exit(run_cli(main))
