# The roadmap demos' regime, for 2 CPU cores: the form of REGIMES['resnet50'] (convnext_dense/models/roadmap_steps.py)
# at a quarter of its widths and about a third of its depths, with the same two changes: the stage ratio
# (1, 1, 2, 1) -> (1, 1, 3, 1) (ConvNeXt-T's 1:1:3:1) and the width 16 -> 24 (64 -> 96 / 4). Stage widths: 64..512
# for the bottleneck steps, 96..768 at `wider`, 24..192 from `inverted_bottleneck` on (resolve_step(step, regime).dims).
demo_regime = dict(depths=(1, 1, 2, 1), width=16, stage_ratio=dict(depths=(1, 1, 3, 1)), wider=dict(width=24))
