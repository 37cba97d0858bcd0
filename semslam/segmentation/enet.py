"""ENet's encoder (Paszke, Chaurasia, Kim, Culurciello: "ENet: A Deep Neural Network Architecture for
Real-Time Semantic Segmentation", 2016) with a 1x1 classifier, as the ScanNet-trained NYU40 model
(enet_scannet_nyu40.pth, used by 3DMV) has it: no decoder, logits at 1/8 of the input.

Written from the paper's Table 1 and section 3:
  initial        3x3 conv stride 2 (13 maps) ‖ 2x2 max-pool of the input (3 maps) → 16, BN, PReLU
  bottleneck1.0  downsampling → 64;  1.1-1.4 regular
  bottleneck2.0  downsampling → 128; 2.1 regular, 2.2 dilated 2, 2.3 asymmetric 5, 2.4 dilated 4,
                 2.5 regular, 2.6 dilated 8, 2.7 asymmetric 5, 2.8 dilated 16
  stage 3        2.1-2.8 again (no downsampling)
  classifier     1x1 conv → classes
A bottleneck: 1x1 projection (2x2 stride 2 when downsampling) → BN → PReLU → main conv (3x3,
dilated 3x3, or 1x5 then 5x1) → BN → PReLU → 1x1 expansion → BN, added to the shortcut (identity,
or max-pool and zero channels when downsampling) → PReLU. Projections reduce the width by 4.
Spatial dropout (0.01 in stage 1, 0.1 later) ends each main branch; the weights come from Torch7,
whose dropout scales by 1 - p at evaluation, so ours does too (`LegacySpatialDropout`).
Batch norm eps 1e-3. The module tree follows the state dict's keys ('0.0.weight' ... '26.0.weight',
a Torch7 nn.Sequential converted to PyTorch) so `load_state_dict` takes the file as it is.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

BN_EPS = 1e-3


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


class _Initial(nn.Module):
    """Children '0' (conv) and '1' (pool), concatenated."""

    def __init__(self, out_channels: int = 16) -> None:
        super().__init__()
        self.add_module("0", nn.Conv2d(3, out_channels - 3, 3, stride=2, padding=1, bias=True))
        self.add_module("1", nn.MaxPool2d(2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([getattr(self, "0")(x), getattr(self, "1")(x)], dim=1)


class _Shortcut(nn.Module):
    """The downsampling bottleneck's other branch: 2x2 max-pool, then zero channels up to `out`."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(x, 2, 2)
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - x.shape[1]))


class _Branches(nn.Module):
    """Child '0' = main branch, child '1' = shortcut; returns their sum."""

    def __init__(self, main: nn.Sequential, shortcut: nn.Module) -> None:
        super().__init__()
        self.add_module("0", main)
        self.add_module("1", shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, "0")(x) + getattr(self, "1")(x)


class LegacySpatialDropout(nn.Module):
    """Torch7's SpatialDropout (the "v1" behaviour the ENet weights were trained with): in
    training, whole feature maps are zeroed with probability p and the rest left unscaled; at
    evaluation every map is scaled by 1 - p. (PyTorch's dropout scales by 1/(1-p) in training
    instead and does nothing at evaluation, so loading the weights into it would change the
    outputs by up to 10% per block.)"""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return F.dropout2d(x, self.p, training=True) * (1.0 - self.p)
        return x * (1.0 - self.p)


class Bottleneck(nn.Module):
    """kind: "regular" | "dilated" | "asymmetric" | "downsampling"; dropout: the main branch's
    spatial dropout (paper: 0.01 in stage 1, 0.1 after). Children: '0' the branches, '2' the PReLU
    after the sum ('1', the sum itself, has no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, kind: str = "regular", dilation: int = 1,
                 dropout: float = 0.1) -> None:
        super().__init__()
        mid = out_channels // 4
        if kind == "downsampling":
            layers = [nn.Conv2d(in_channels, mid, 2, stride=2, bias=False), _bn(mid), nn.PReLU(mid),
                      nn.Conv2d(mid, mid, 3, padding=1, bias=True), _bn(mid), nn.PReLU(mid)]
            shortcut: nn.Module = _Shortcut(out_channels)
        else:
            layers = [nn.Conv2d(in_channels, mid, 1, bias=False), _bn(mid), nn.PReLU(mid)]
            if kind == "asymmetric":
                layers += [nn.Conv2d(mid, mid, (1, 5), padding=(0, 2), bias=False),
                           nn.Conv2d(mid, mid, (5, 1), padding=(2, 0), bias=True)]
            else:
                layers += [nn.Conv2d(mid, mid, 3, padding=dilation, dilation=dilation, bias=True)]
            layers += [_bn(mid), nn.PReLU(mid)]
            shortcut = nn.Identity()
        layers += [nn.Conv2d(mid, out_channels, 1, bias=False), _bn(out_channels), LegacySpatialDropout(dropout)]
        self.add_module("0", _Branches(nn.Sequential(*layers), shortcut))
        self.add_module("1", nn.Identity())
        self.add_module("2", nn.PReLU(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, "2")(getattr(self, "0")(x))


class _Classifier(nn.Module):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.add_module("0", nn.Conv2d(in_channels, num_classes, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, "0")(x)


# stage 2/3 body (paper Table 1): (kind, dilation)
_STAGE = [("regular", 1), ("dilated", 2), ("asymmetric", 1), ("dilated", 4),
          ("regular", 1), ("dilated", 8), ("asymmetric", 1), ("dilated", 16)]  # fmt: skip


class ENetEncoder(nn.Sequential):
    """ENet encoder + 1x1 classifier: (N, 3, H, W) normalised RGB, H and W multiples of 8 →
    (N, num_classes, H/8, W/8) logits. Children 0..26 as in the ScanNet state dict."""

    def __init__(self, num_classes: int = 41) -> None:
        layers: list[nn.Module] = [_Initial(16), nn.Identity(), _bn(16), nn.PReLU(16)]
        # (the Torch7 model concatenates in '0' and joins in '1'; BN and PReLU follow as '2', '3')
        layers.append(Bottleneck(16, 64, "downsampling", dropout=0.01))
        layers += [Bottleneck(64, 64, dropout=0.01) for _ in range(4)]
        layers.append(Bottleneck(64, 128, "downsampling"))
        layers += [Bottleneck(128, 128, kind, d) for kind, d in _STAGE]
        layers += [Bottleneck(128, 128, kind, d) for kind, d in _STAGE]
        layers.append(_Classifier(128, num_classes))
        super().__init__(*layers)


def load_enet(path, map_location: str = "cpu") -> ENetEncoder:
    """ENetEncoder with the weights of a state dict file (classes from its classifier), in eval
    mode. Raises ValueError naming the file when its keys or shapes do not fit."""
    state = torch.load(str(path), map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or "26.0.weight" not in state:
        raise ValueError(f"{path} is not an ENet encoder state dict (no classifier key '26.0.weight')")
    model = ENetEncoder(int(state["26.0.weight"].shape[0]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path} does not fit semslam's ENet encoder: {str(exc).splitlines()[0]} ...") from None
    return model.eval()
