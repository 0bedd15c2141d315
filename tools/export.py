"""Export a trained model (or its backbone) to ONNX for onnxruntime, and check it against PyTorch.

    python tools/export.py CONFIG CHECKPOINT --out model.onnx                  # the whole model, fused, fp32
    python tools/export.py CONFIG CHECKPOINT --out backbone.onnx --part backbone
    python tools/export.py CONFIG CHECKPOINT --out model_fp16.onnx --fp16       # fp16 layers, fp32 norms
    python tools/export.py CONFIG CHECKPOINT --out model.onnx --evaluate       # + test-set metrics of both

Detectors (Mask R-CNN, Cascade Mask R-CNN), segmentors (UperNet) and classifiers export whole, with the
model's preprocessing inside; the tool prints what the graph expects and returns. ``--evaluate`` runs the
config's test set through the checkpoint in PyTorch and the file in onnxruntime and prints both metrics.
Run an exported detector or segmentor on images with ``tools/infer.py CONFIG model.onnx IMAGES
--backend onnxruntime``. See docs/deploy.md.
"""

import argparse
import sys

from mmengine.config import DictAction

import convnext_dense  # noqa: F401
from convnext_dense.apis import load_config
from convnext_dense.apis.cli import run_cli
from convnext_dense.deploy.evaluate import compare_metrics, format_comparison
from convnext_dense.deploy.export import DEFAULT_OPSET, PARTS, export_onnx


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='the trained whole-model checkpoint (.pth)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--part', choices=PARTS, default='model', help="'backbone': the backbone's feature maps only")
    parser.add_argument('--fp16', action='store_true', help='float16 layers; normalisations and box maths in float32')
    parser.add_argument('--no-fuse', action='store_true', help="keep ConvNeXt's training form (no folded LayerNorms)")
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'), help='tracing example size (sizes stay dynamic)'
    )
    parser.add_argument('--no-verify', action='store_true', help='skip the check at another size against PyTorch')
    parser.add_argument(
        '--evaluate', action='store_true', help='test-set metrics of PyTorch and onnxruntime, side by side'
    )
    parser.add_argument('--limit', type=int, help='--evaluate on the first N test images only')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys, key=value')
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    meta = export_onnx(
        cfg,
        args.checkpoint,
        args.out,
        part=args.part,
        fp16=args.fp16,
        fuse=not args.no_fuse,
        opset=args.opset,
        shape=args.shape,
        verify=not args.no_verify,
    )
    form = ('fp16' if meta['fp16'] else 'fp32') + (', fused' if meta['fused'] else ', unfused')
    print(f'wrote {args.out}: {meta["task"]}, {form}')
    print(f'input {meta["input_name"]!r}: {meta["input"]}')
    print(f'outputs: {", ".join(meta["outputs"])}' + (' (one image per call)' if meta['batch'] == 1 else ''))
    if 'verified' in meta:
        checked = {k: v for k, v in meta['verified'].items() if k != 'size'}
        print(f'checked in onnxruntime against PyTorch at {"x".join(map(str, meta["verified"]["size"]))}: {checked}')
    if args.evaluate:
        print(format_comparison(compare_metrics(cfg, args.checkpoint, args.out, limit=args.limit)))


if __name__ == '__main__':
    sys.exit(run_cli(main))  # a user mistake prints `error: ...` (exit code 2), not a traceback
