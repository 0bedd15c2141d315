"""Run a trained detector or segmentor on your images and save the drawn predictions as PNG.

    python tools/infer.py CONFIG CHECKPOINT path/to/images_or_one_image --out-dir outputs/
    python tools/infer.py CONFIG CHECKPOINT demo.jpg --score-thr 0.5 --device cuda:0
    python tools/infer.py CONFIG model.onnx images/ --backend onnxruntime      # a tools/export.py file

Detection: ``<name>.png`` with boxes and masks drawn, ``preds/<name>.json`` with boxes, scores, labels
(and RLE masks). Segmentation: ``<name>.png`` colour overlay and ``masks/<name>.png`` with class ids.
Uses mmdet's DetInferencer / mmseg's MMSegInferencer.
"""

import argparse
import sys

import convnext_dense  # noqa: F401
from convnext_dense.apis import load_config
from convnext_dense.apis.cli import run_cli
from convnext_dense.apis.inference import BACKENDS, run_inference


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('--out-dir', default='outputs', help='where the PNGs go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='detection: minimum score drawn')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--backend', choices=BACKENDS, default='pytorch', help='onnxruntime: CHECKPOINT is an .onnx file'
    )
    args = parser.parse_args()
    written = run_inference(
        load_config(args.config),
        args.checkpoint,
        args.inputs,
        args.out_dir,
        score_thr=args.score_thr,
        device=args.device,
        backend=args.backend,
    )
    print(f'wrote {len(written)} images to {args.out_dir}')


if __name__ == '__main__':
    sys.exit(run_cli(main))  # a user mistake prints `error: ...` (exit code 2), not a traceback
