"""libdh's smallcnn + hash head in PyTorch (lib/nn/encoder_arch.c, lib/hash/head.c).

smallcnn: conv5x5-32 (no bias), BN, ReLU, maxpool 2, conv5x5-64 (no bias), BN, ReLU,
maxpool 2, linear 3136->512 (no bias), BN1d, ReLU; PyTorch default init (libdh uses the
same kaiming-uniform(a=sqrt 5) bounds). Head: linear 512->K with N(0, 0.01) weights and
zero bias (dh_model_options.head_init_std = 0.01); the BN head (OrthoHash) is linear
without bias followed by BatchNorm1d(K). forward() returns the head's pre-activation z
(identity / tanh / scaled-tanh heads; the losses apply the activation) or the BN output.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self, bits, bn_head=False, head_std=0.01):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 7 * 7, 512, bias=False)
        self.bn3 = nn.BatchNorm1d(512)
        self.head = nn.Linear(512, bits, bias=not bn_head)
        self.head_bn = nn.BatchNorm1d(bits) if bn_head else None
        nn.init.normal_(self.head.weight, 0, head_std)
        if self.head.bias is not None:
            nn.init.zeros_(self.head.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.relu(self.bn3(self.fc(x.flatten(1))))
        z = self.head(x)
        return self.head_bn(z) if self.head_bn is not None else z


def param_groups(model, loss_params, lr, wd, loss_lr_mult, decay_all):
    """libdh's optimizer groups: L2 weight decay on every tensor (decay_scope 'all') or
    on weights only ('weights': ndim > 1; biases and BN parameters are no_decay; loss
    tensors as lib/loss marks them: 1-D ones no_decay), loss-owned tensors (classifier,
    proxies) at lr * param_lr_mult of the recipe row; 'mult' scales the scheduled lr."""
    groups = {}
    for name, p in model.named_parameters():
        groups.setdefault((1.0, decay_all or p.ndim > 1), []).append(p)
    for p in loss_params:
        groups.setdefault((loss_lr_mult, decay_all or p.ndim > 1), []).append(p)
    return [{"params": ps, "lr": lr * mult, "mult": mult, "weight_decay": wd if decay else 0.0}
            for (mult, decay), ps in groups.items()]


def augment(x, pad, flip_prob, gen):
    """Random crop of the input size after `pad` px of zeros (in [0, 1] pixel space,
    before normalisation: torchvision RandomCrop(28, padding=pad) on the image; pad < 0:
    no crop) and a horizontal flip with probability flip_prob. x: (B, 1, H, W) in [0, 1]."""
    B, C, H, W = x.shape
    if pad > 0:
        xp = F.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        ox = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        iy = (oy[:, None] + torch.arange(H)[None, :])            # B x H
        ix = (ox[:, None] + torch.arange(W)[None, :])            # B x W
        b = torch.arange(B)[:, None, None]
        x = xp[b, 0, iy[:, :, None], ix[:, None, :]][:, None]
    if flip_prob > 0:
        f = torch.rand(B, generator=gen) < flip_prob
        x = torch.where(f[:, None, None, None], x.flip(3), x)
    return x
