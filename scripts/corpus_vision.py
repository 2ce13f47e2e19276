"""PyTorch vision models of the real-world corpus, written the way their zoos write them.

Imported by make_corpus.py (generation venv only). torchvision and ultralytics
are not installed (torchvision cannot sit beside the local torch wheel), so
their architectures are spelled out here in plain torch with the same
modules, forward passes and export conventions; only the widths are smaller.
"""

from __future__ import annotations

import torch
from torch import nn

# --- torchvision ResNet-18 (BasicBlock, [2, 2, 2, 2]) at 1/8 width ----------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision.models.resnet18's module tree and forward, widths 8/16/32/64."""

    def __init__(self, widths=(8, 16, 32, 64), num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --- ultralytics YOLOv8 (Conv/C2f/SPPF backbone, PAN neck, DFL Detect head) -------------------

class Conv(nn.Module):
    """ultralytics Conv: conv (no bias) + BN + SiLU."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool):
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """CSP bottleneck with two convolutions; the export path splits with Tensor.split."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).split((self.c, self.c), 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5):
        super().__init__()
        c_ = c1 // 2
        self.cv1, self.cv2 = Conv(c1, c_, 1), Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class DFL(nn.Module):
    """Distribution focal loss integral: softmax over reg_max bins, 1x1 conv with 0..15."""

    def __init__(self, c1: int = 16):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x):
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def make_anchors(feats, strides, offset: float = 0.5):
    """Anchor centres and strides from the feature maps' own shapes (dynamic export)."""
    anchor_points, stride_tensor = [], []
    for feat, stride in zip(feats, strides, strict=True):
        _, _, h, w = feat.shape
        sx = torch.arange(end=w, dtype=feat.dtype) + offset
        sy = torch.arange(end=h, dtype=feat.dtype) + offset
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        anchor_points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_tensor.append(torch.full((h * w, 1), stride, dtype=feat.dtype))
    return torch.cat(anchor_points), torch.cat(stride_tensor)


def dist2bbox(distance, anchor_points, dim: int = 1):
    lt, rb = distance.chunk(2, dim)
    x1y1, x2y2 = anchor_points - lt, anchor_points + rb
    return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), dim)


class Detect(nn.Module):
    """YOLOv8 Detect head as exported with dynamic=True: anchors computed in the graph."""

    def __init__(self, nc: int, ch: tuple[int, ...], strides=(8.0, 16.0, 32.0)):
        super().__init__()
        self.nc, self.reg_max, self.strides = nc, 16, strides
        self.no = nc + self.reg_max * 4
        c2, c3 = max(16, ch[0] // 4, self.reg_max * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(
            nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1))
            for x in ch)
        self.cv3 = nn.ModuleList(
            nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = DFL(self.reg_max)

    def forward(self, xs):
        xs = [torch.cat((b(x), c(x)), 1) for x, b, c in zip(xs, self.cv2, self.cv3, strict=True)]
        shape = xs[0].shape
        x_cat = torch.cat([xi.view(shape[0], self.no, -1) for xi in xs], 2)
        anchors, strides = (t.transpose(0, 1) for t in make_anchors(xs, self.strides))
        box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
        dbox = dist2bbox(self.dfl(box), anchors.unsqueeze(0), dim=1) * strides
        return torch.cat((dbox, cls.sigmoid()), 1)


class YOLOv8(nn.Module):
    """yolov8n.yaml's backbone and head with width multiple 0.125 (channels 8..64)."""

    def __init__(self, nc: int = 4, w=(4, 8, 16, 32, 64)):
        super().__init__()
        self.b0, self.b1 = Conv(3, w[0], 3, 2), Conv(w[0], w[1], 3, 2)
        self.b2 = C2f(w[1], w[1], 1, True)
        self.b3, self.b4 = Conv(w[1], w[2], 3, 2), C2f(w[2], w[2], 2, True)
        self.b5, self.b6 = Conv(w[2], w[3], 3, 2), C2f(w[3], w[3], 2, True)
        self.b7, self.b8 = Conv(w[3], w[4], 3, 2), C2f(w[4], w[4], 1, True)
        self.b9 = SPPF(w[4], w[4])
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h12 = C2f(w[4] + w[3], w[3])
        self.h15 = C2f(w[3] + w[2], w[2])
        self.h16, self.h18 = Conv(w[2], w[2], 3, 2), C2f(w[2] + w[3], w[3])
        self.h19, self.h21 = Conv(w[3], w[3], 3, 2), C2f(w[3] + w[4], w[4])
        self.detect = Detect(nc, (w[2], w[3], w[4]))

    def forward(self, x):
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        h12 = self.h12(torch.cat((self.up(p5), p4), 1))
        h15 = self.h15(torch.cat((self.up(h12), p3), 1))
        h18 = self.h18(torch.cat((self.h16(h15), h12), 1))
        h21 = self.h21(torch.cat((self.h19(h18), p5), 1))
        return self.detect([h15, h18, h21])


# --- PaddleOCR PP-LCNet text-line orientation classifier (x0.25) ------------------------------

class ConvBNLayer(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.Hardswish()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class SEModule(nn.Module):
    def __init__(self, c: int, reduction: int = 4):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv1, self.conv2 = nn.Conv2d(c, c // reduction, 1), nn.Conv2d(c // reduction, c, 1)
        self.relu, self.hardsigmoid = nn.ReLU(), nn.Hardsigmoid()

    def forward(self, x):
        return x * self.hardsigmoid(self.conv2(self.relu(self.conv1(self.avg_pool(x)))))


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, k: int, use_se: bool):
        super().__init__()
        self.dw_conv = ConvBNLayer(cin, cin, k, stride, groups=cin)
        self.se = SEModule(cin) if use_se else nn.Identity()
        self.pw_conv = ConvBNLayer(cin, cout, 1, 1)

    def forward(self, x):
        return self.pw_conv(self.se(self.dw_conv(x)))


# PP-LCNet NET_CONFIG: (kernel, in, out, stride, se) per block, channels before scaling
LCNET_BLOCKS = ((3, 16, 32, 1, False),
                (3, 32, 64, 2, False), (3, 64, 64, 1, False),
                (3, 64, 128, 2, False), (3, 128, 128, 1, False),
                (3, 128, 256, 2, False), *((5, 256, 256, 1, False),) * 5,
                (5, 256, 512, 2, True), (5, 512, 512, 1, True))


class PPLCNet(nn.Module):
    """PP-LCNet x0.25 with the 'last_conv' head and softmax, as PaddleClas ships it."""

    def __init__(self, scale: float = 0.25, class_num: int = 2, last_channels: int = 1280):
        super().__init__()
        c = lambda n: max(8, int(n * scale + 4) // 8 * 8)  # noqa: E731 - PaddleClas make_divisible
        self.conv1 = ConvBNLayer(3, c(16), 3, 2)
        self.blocks = nn.Sequential(*(DepthwiseSeparable(c(i), c(o), s, k, se)
                                      for k, i, o, s, se in LCNET_BLOCKS))
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.last_conv = nn.Conv2d(c(512), last_channels, 1, bias=False)
        self.hardswish = nn.Hardswish()
        self.fc = nn.Linear(last_channels, class_num)

    def forward(self, x):
        x = self.avg_pool(self.blocks(self.conv1(x)))
        x = torch.flatten(self.hardswish(self.last_conv(x)), 1)
        return torch.softmax(self.fc(x), dim=-1)


# --- milesial/Pytorch-UNet (the most-used PyTorch U-Net) at 1/8 width -------------------------

class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))

    def forward(self, x):
        return self.double_conv(x)


class Up(nn.Module):
    """Upscale (bilinear Resize or ConvTranspose), pad to the skip's size, concat, convs."""

    def __init__(self, cin: int, cout: int, bilinear: bool):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(cin + cin // 2, cout)
        else:
            self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
            self.conv = DoubleConv(cin, cout)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size()[2] - x1.size()[2], x2.size()[3] - x1.size()[3]
        x1 = nn.functional.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class UNet(nn.Module):
    """Three levels, widths 8/16/32/64; the deepest up is bilinear, the others transposed."""

    def __init__(self, n_channels: int = 3, n_classes: int = 2):
        super().__init__()
        self.inc = DoubleConv(n_channels, 8)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(8, 16))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(16, 32))
        self.down3 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(32, 64))
        self.up1 = Up(64, 32, bilinear=True)
        self.up2 = Up(32, 16, bilinear=False)
        self.up3 = Up(16, 8, bilinear=False)
        self.outc = nn.Conv2d(8, n_classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x = self.up1(self.down3(x3), x3)
        return self.outc(self.up3(self.up2(x, x2), x1))
