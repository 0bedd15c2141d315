# The roadmap recipe of roadmap_r50_in1k.py on CIFAR-100 (the python release: data/cifar100/cifar-100-python/
# {train,test,meta}, read by torchvision's reader in CIFAR100Dataset), a common one-GPU stand-in for ImageNet in
# studies of this kind. The 32x32 images are upsampled to the recipe's 224 by the transform (bicubic random-resized
# crops for training; the whole image resized to 224 for the test split, crop_pct 1.0). Get the data with
#   python -c "import torchvision; torchvision.datasets.CIFAR100('data/cifar100', download=True)"
#   python tools/train.py configs/roadmap/roadmap_r50_cifar100.py --seed 0 --cfg-options model.backbone.step=gelu
# The schedule is the recipe's (300 epochs, 20 warm-up, lr scaled from batch 4096 by auto_scale_lr).
_base_ = './roadmap_r50_in1k.py'

data_root = 'data/cifar100'
model = dict(num_classes=100)
train_dataloader = dict(dataset=dict(type='CIFAR100Dataset', data_root=data_root, split='train'))
val_dataloader = dict(
    dataset=dict(type='CIFAR100Dataset', data_root=data_root, split='test', transform=dict(crop_pct=1.0))
)
test_dataloader = val_dataloader
