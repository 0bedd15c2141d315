"""Write the synthetic shapes classification dataset (ImageNet folder layout) for the classification demo.

    python tools/make_cls_data.py --out data/synthetic_cls
    python tools/make_cls_data.py --out data/tiny_cls --num-classes 4 --train-per-class 20 --val-per-class 5
"""
import argparse
import time

from convnext_dense.classification.synthetic import SHAPES, generate_imagefolder


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='data/synthetic_cls', help='output folder (train/ and val/ go in it)')
    parser.add_argument('--num-classes', type=int, default=8, help=f'shape kinds, the first N of {SHAPES}')
    parser.add_argument('--train-per-class', type=int, default=300, help='training images per class')
    parser.add_argument('--val-per-class', type=int, default=50, help='validation images per class')
    parser.add_argument('--image-size', type=int, default=64, help='side of the square images')
    parser.add_argument('--seed', type=int, default=0, help='random seed (same seed, same files)')
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.time()
    info = generate_imagefolder(args.out, num_classes=args.num_classes, num_train_per_class=args.train_per_class,
                                num_val_per_class=args.val_per_class, image_size=args.image_size, seed=args.seed)
    print(f'{info["out_dir"]}: {info["train"]} train / {info["val"]} val images of {len(info["classes"])} classes '
          f'{info["classes"]}, {args.image_size}x{args.image_size}, in {time.time() - start:.1f} s')


if __name__ == '__main__':
    main()
