"""Download the ImageNet weights that configs start from, ahead of time (e.g. before going offline).

    python tools/download_weights.py configs/detection/cascade_convnext_t_3x.py [CONFIG ...]
    python tools/download_weights.py --name convnext_tiny_1k_224 [--name ...]
    python tools/download_weights.py --name timm:convnext_base.fb_in22k_ft_in1k --name hf-hub:facebook/convnext-tiny-224
    python tools/download_weights.py --list
    python tools/download_weights.py CONFIG --out-dir /data/weights

Files go to torch hub's cache, ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``),
where a run that names the URL finds them without network access; files already there are not
downloaded again. With ``--out-dir`` they go to that folder instead, and the tool prints the
``--cfg-options model.backbone.init_cfg.checkpoint=...`` that points a config at them. Checkpoints named by a
timm tag or a Hugging Face Hub repository (``timm:...``, ``hf-hub:...``, :mod:`convnext_dense.hf_hub`) go to the
Hugging Face cache, where timm and transformers look too; the tool prints which file each name means.
Downloads are atomic: an interrupted one leaves nothing behind. See docs/pretrained_weights.md.
"""

import argparse
import difflib
import os.path as osp
import sys

from convnext_dense import hf_hub, hub
from convnext_dense.apis import load_config
from convnext_dense.apis.cli import run_cli
from convnext_dense.errors import ConfigError
from convnext_dense.models import weights as W


def print_table() -> None:
    print(f'{"name":34} {"arch":9} {"data":26} {"res":>4} {"top-1":>6}  url')
    for w in W.RELEASED_WEIGHTS.values():
        top1 = f'{w.top1:.1f}' if w.top1 is not None else '-'
        print(f'{w.name:34} {w.arch:9} {w.data:26} {w.resolution:>4} {top1:>6}  {w.url}')
    print(f'\ncache: {hub.cache_dir()}')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='*', help='config files whose init_cfg checkpoints to download')
    parser.add_argument(
        '--name',
        action='append',
        default=[],
        help='a released checkpoint by name (see --list), e.g. convnext_tiny_1k_224, or a timm tag '
        '(timm:convnext_base.fb_in22k_ft_in1k) or Hub repository (hf-hub:facebook/convnext-tiny-224); repeatable',
    )
    parser.add_argument('--list', action='store_true', help='print the table of released weights and exit')
    parser.add_argument('--out-dir', help=f'download here instead of the cache ({hub.cache_dir()})')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)

    if args.list:
        print_table()
        return 0
    if not args.configs and not args.name:
        parser.error('give one or more configs, --name NAME or --list')

    wanted = []  # (option key, url or hub name)
    for name in args.name:
        if hf_hub.is_hub_name(name):
            wanted.append(('model.backbone.init_cfg.checkpoint', name))
            continue
        entry = W.released(name)
        if entry is None:
            close = difflib.get_close_matches(name, list(W.RELEASED_WEIGHTS), n=5, cutoff=0.6)
            raise ConfigError(
                f'--name {name!r} is not a released checkpoint name. Close names: {", ".join(close) or "none"}; '
                f'--list prints them all.'
            )
        wanted.append(('model.backbone.init_cfg.checkpoint', entry.url))
    for path in args.configs:
        found = W.config_checkpoints(load_config(path))  # a missing config: an error naming it
        if not found:
            print(f'{path}: no http(s) or hub checkpoint in its model, nothing to download')
        wanted += [(key, url) for key, url in found if url not in [u for _, u in wanted]]

    for key, url in wanted:
        if hf_hub.is_hub_name(url):
            weights = hf_hub.resolve(url)
            print(weights.describe())
            path = hf_hub.fetch(weights, out_dir=args.out_dir)
            print(path)
            if args.out_dir:
                print(f'  use it with: --cfg-options {key}={osp.abspath(path)}')
            continue
        path = hub.fetch(url, out_dir=args.out_dir, progress=not args.no_progress)  # run_cli reports a failure
        entry = W.released(url)
        print(f'{path}  ({entry.name}, {entry.arch}, {entry.data})' if entry else path)
        if args.out_dir:
            print(f'  use it with: --cfg-options {key}={osp.abspath(path)}')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
