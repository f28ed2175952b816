"""`FftGroupedConv1d`: a wide grouped Conv1d (HuBERT/wav2vec 2.0's positional conv) by FFT.

The positional conv of HuBERT and wav2vec 2.0 (kernel 128, 16 groups) costs as much as a whole
transformer layer when done directly on CPU. By overlap-save FFT with the kernel's transform
computed once, it costs about a quarter of that; results equal the direct conv to float32
rounding (about 1e-6). Used on CPU only: on GPU the direct grouped conv is already fast.

>>> conv = torch.nn.Conv1d(64, 64, 16, padding=8, groups=4)
>>> x = torch.randn(2, 64, 50)
>>> bool(torch.allclose(FftGroupedConv1d(conv)(x), conv(x), atol=1e-5))
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FftGroupedConv1d(nn.Module):
    """Same input and output as `conv` (stride 1, dilation 1, zero padding), computed by FFT."""

    def __init__(self, conv: nn.Conv1d, fft_size: int | None = None) -> None:
        super().__init__()
        if conv.stride != (1,) or conv.dilation != (1,) or conv.padding_mode != "zeros":
            raise ValueError(
                "FftGroupedConv1d needs stride 1, dilation 1 and zero padding, but the conv has "
                f"stride {conv.stride}, dilation {conv.dilation}, padding_mode "
                f"{conv.padding_mode!r}; fix: keep the direct nn.Conv1d for this layer"
            )
        weight = conv.weight.detach()
        out_channels, in_per_group, kernel = weight.shape
        self.groups = conv.groups
        self.out_channels = out_channels
        self.kernel = kernel
        self.padding = int(conv.padding[0])
        # The smallest power of two at least 4x the kernel: each block then gives 3/4 of its
        # length as output. The kernel's transform is held once: 76 MB for HuBERT-base's
        # positional conv, 135 MB for HuBERT-large's.
        self.fft_size = fft_size or 1 << (4 * kernel - 1).bit_length()
        self.step = self.fft_size - kernel + 1
        out_per_group = out_channels // self.groups
        # Cross-correlation = convolution with the flipped kernel. (bins, groups, in, out).
        spectrum = torch.fft.rfft(weight.flip(-1).float(), n=self.fft_size)
        spectrum = spectrum.reshape(self.groups, out_per_group, in_per_group, -1)
        self.register_buffer("spectrum", spectrum.permute(3, 0, 2, 1).contiguous())
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(out_channels)
        self.register_buffer("bias", bias.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, length = x.shape
        dtype = x.dtype
        outputs = length + 2 * self.padding - self.kernel + 1
        blocks = -(-outputs // self.step)
        # Overlap-save: block b reads padded samples [b*step, b*step + fft_size).
        total = (blocks - 1) * self.step + self.fft_size
        padded = F.pad(x.float(), (self.padding, total - length - self.padding))
        pieces = padded.unfold(2, self.fft_size, self.step)  # (batch, channels, blocks, fft)
        spectra = torch.fft.rfft(pieces, n=self.fft_size)
        bins = spectra.shape[-1]
        # (bins, groups, batch*blocks, in) @ (bins, groups, in, out)
        spectra = spectra.reshape(batch, self.groups, -1, blocks, bins)
        spectra = spectra.permute(4, 1, 0, 3, 2).reshape(bins, self.groups, batch * blocks, -1)
        product = spectra @ self.spectrum
        product = product.reshape(bins, self.groups, batch, blocks, -1)
        product = product.permute(2, 1, 4, 3, 0).reshape(batch, self.out_channels, blocks, bins)
        signal = torch.fft.irfft(product, n=self.fft_size)[..., self.kernel - 1 :]
        out = signal.reshape(batch, self.out_channels, blocks * self.step)[..., :outputs]
        return (out + self.bias[:, None]).to(dtype)
