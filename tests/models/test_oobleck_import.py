"""Importing stable-audio-tools Oobleck weights.

The reference below rebuilds the stable-audio-tools module tree (flat nn.Sequentials, the old
`torch.nn.utils.weight_norm`, SnakeBeta with log-scale alpha / beta) independently of
`oobleck_import`, so that a wrong mapping shows up as wrong key names, shapes or outputs.
"""

import math
import warnings

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from s2accompanist.models.oobleck_import import OobleckImportError, load_oobleck_weights, to_oobleck_state_dict
from s2accompanist.models.vae import VAE, VAEConfig

CONFIG = VAEConfig(in_channels=2, channels=4, c_mults=(1, 2, 4), strides=(2, 4, 2), latent_dim=3, sample_rate=16000)


class ReferenceSnakeBeta(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.alpha = nn.Parameter(torch.randn(channels) * 0.3)
        self.beta = nn.Parameter(torch.randn(channels) * 0.3)

    def forward(self, x):
        return x + torch.sin(x * self.alpha.exp()[:, None]) ** 2 / (self.beta.exp()[:, None] + 1e-9)


def old_wn(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.nn.utils.weight_norm(module)


class ReferenceResidual(nn.Module):
    def __init__(self, channels, dilation):
        super().__init__()
        self.layers = nn.Sequential(
            ReferenceSnakeBeta(channels),
            old_wn(nn.Conv1d(channels, channels, 7, dilation=dilation, padding=3 * dilation)),
            ReferenceSnakeBeta(channels),
            old_wn(nn.Conv1d(channels, channels, 1)),
        )

    def forward(self, x):
        return x + self.layers(x)


class ReferenceBlock(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def reference_oobleck(config):
    widths = [config.channels] + [m * config.channels for m in config.c_mults]
    encoder = [old_wn(nn.Conv1d(config.in_channels, widths[0], 7, padding=3))]
    for i, s in enumerate(config.strides):
        units = [ReferenceResidual(widths[i], d) for d in (1, 3, 9)]
        down = old_wn(nn.Conv1d(widths[i], widths[i + 1], 2 * s, stride=s, padding=math.ceil(s / 2)))
        encoder.append(ReferenceBlock(*units, ReferenceSnakeBeta(widths[i]), down))
    encoder += [ReferenceSnakeBeta(widths[-1]), old_wn(nn.Conv1d(widths[-1], 2 * config.latent_dim, 3, padding=1))]
    decoder = [old_wn(nn.Conv1d(config.latent_dim, widths[-1], 7, padding=3))]
    for i in reversed(range(len(config.strides))):
        s = config.strides[i]
        up = old_wn(nn.ConvTranspose1d(widths[i + 1], widths[i], 2 * s, stride=s, padding=math.ceil(s / 2)))
        decoder.append(ReferenceBlock(ReferenceSnakeBeta(widths[i + 1]), up, *(ReferenceResidual(widths[i], d) for d in (1, 3, 9))))
    decoder += [ReferenceSnakeBeta(widths[0]), old_wn(nn.Conv1d(widths[0], config.in_channels, 7, padding=3, bias=False))]
    model = nn.Module()
    model.encoder = ReferenceBlock(*encoder)
    model.decoder = ReferenceBlock(*decoder)
    return model


@pytest.fixture
def reference():
    torch.manual_seed(0)
    model = reference_oobleck(CONFIG).eval()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("weight_g"):
                tensor.mul_(0.5 + torch.rand_like(tensor))  # g no longer equals |v|: both must be carried over
    return model


def test_keys_follow_stable_audio_tools_names(reference):
    keys = set(reference.state_dict())
    assert {"encoder.layers.0.weight_g", "encoder.layers.0.weight_v", "encoder.layers.1.layers.0.layers.0.alpha"} <= keys
    assert {"encoder.layers.3.layers.4.weight_v", "encoder.layers.5.weight_g", "decoder.layers.1.layers.1.weight_g"} <= keys
    assert {"decoder.layers.3.layers.4.layers.3.bias", "decoder.layers.4.beta", "decoder.layers.5.weight_v"} <= keys


@pytest.mark.parametrize("prefix", ["", "autoencoder.", "pretransform.model."])
def test_imported_weights_reproduce_the_reference(reference, tmp_path, prefix):
    tensors = {f"{prefix}{k}": v.contiguous() for k, v in reference.state_dict().items()}
    tensors["discriminator.convs.0.weight"] = torch.zeros(1)  # outside the prefix: ignored
    if not prefix:
        del tensors["discriminator.convs.0.weight"]
    save_file(tensors, str(tmp_path / "oobleck.safetensors"))
    vae = load_oobleck_weights(VAE(CONFIG), tmp_path / "oobleck.safetensors").eval()
    torch.manual_seed(1)
    audio, latent = torch.randn(2, 2, 16 * 12), torch.randn(2, 3, 12)
    with torch.no_grad():
        mean, _ = vae.encode(audio)
        torch.testing.assert_close(mean, reference.encoder(audio)[:, :3])
        torch.testing.assert_close(vae.decode(latent), reference.decoder(latent))


def test_new_style_weight_norm_keys_load_too(reference, tmp_path):
    renamed = {
        k.replace("weight_g", "parametrizations.weight.original0").replace("weight_v", "parametrizations.weight.original1"): v
        for k, v in reference.state_dict().items()
    }
    save_file(renamed, str(tmp_path / "new.safetensors"))
    vae = load_oobleck_weights(VAE(CONFIG), tmp_path / "new.safetensors").eval()
    latent = torch.randn(1, 3, 7)
    with torch.no_grad():
        torch.testing.assert_close(vae.decode(latent), reference.decoder(latent))


def test_mismatches_name_the_file_and_the_key(reference, tmp_path):
    tensors = dict(reference.state_dict())
    tensors["encoder.layers.9.weight_g"] = torch.zeros(1)
    save_file(tensors, str(tmp_path / "extra.safetensors"))
    with pytest.raises(OobleckImportError, match=r"extra\.safetensors.*'encoder\.layers\.9\.weight_g'"):
        load_oobleck_weights(VAE(CONFIG), tmp_path / "extra.safetensors")

    tensors = dict(reference.state_dict())
    del tensors["decoder.layers.0.bias"]
    save_file(tensors, str(tmp_path / "missing.safetensors"))
    with pytest.raises(OobleckImportError, match=r"missing\.safetensors lacks weights for 'decoder\.input_conv\.bias'"):
        load_oobleck_weights(VAE(CONFIG), tmp_path / "missing.safetensors")

    save_file(dict(reference.state_dict()), str(tmp_path / "wide.safetensors"))
    wider = VAEConfig(2, 8, (1, 2, 4), (2, 4, 2), 3)
    with pytest.raises(OobleckImportError, match=r"wide\.safetensors: '.*' has shape"):
        load_oobleck_weights(VAE(wider), tmp_path / "wide.safetensors")

    with pytest.raises(FileNotFoundError, match="vae.pretrained"):
        load_oobleck_weights(VAE(CONFIG), tmp_path / "absent.safetensors")


def test_export_to_oobleck_keys_round_trips_through_the_loader(tmp_path):
    """A base trained here is stored as stable-audio-tools would name it and loads back unchanged."""
    torch.manual_seed(3)
    ours = VAE(CONFIG).eval()
    exported = to_oobleck_state_dict(ours)
    assert all(key.startswith(("encoder.layers.", "decoder.layers.")) for key in exported)
    save_file(exported, str(tmp_path / "base.safetensors"))
    loaded = load_oobleck_weights(VAE(CONFIG), tmp_path / "base.safetensors").eval()
    for key, value in ours.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
