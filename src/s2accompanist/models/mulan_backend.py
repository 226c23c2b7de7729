"""MuQ-MuLan (the `mulan` alignment backend and the `mulan_text` text encoder): why it cannot run here.

MuQ-MuLan's only implementation is the `muq` package (0.1.0, tencent-ailab/MuQ); its official
checkpoint OpenMuQ/MuQ-MuLan-large is a Hugging Face mixin folder (config.json +
model.safetensors) that `muq.MuQMuLan.from_pretrained` reads. In this environment (CPU torch 2.13,
transformers 5.24, no torchaudio or torchvision allowed) that package cannot be imported or built,
for reasons found by reading muq 0.1.0's source:

1. `muq/modules/features.py` imports torchaudio at module top, and MuQ's audio front end *is*
   `torchaudio.transforms.MelSpectrogram` (+ `AmplitudeToDB`): torchaudio is needed on the very
   path that embeds audio, not on a side path. `muq_mulan/models/audio.py` also imports
   `torchaudio.transforms` at module top. torchaudio must never be installed here (its CUDA-linked
   build breaks lightning and transformers imports on CPU torch; see DEPENDENCIES.md).
2. `muq/modules/flash_conformer.py` imports `transformers.deepspeed`, which transformers 5 removed:
   `import muq` fails with ModuleNotFoundError even where torchaudio exists.
3. The text tower imports `x_clip.tokenizer`, and `x_clip/__init__` imports torchvision.
4. `MuQMuLan(config)` builds its towers with `MuQ.from_pretrained('OpenMuQ/MuQ-large-msd-iter')` and
   `XLMRobertaModel/AutoTokenizer.from_pretrained('xlm-roberta-base')`: two further downloads that
   would have to be redirected to local folders.

Running it would take stand-ins for three packages, one of them a re-implementation of the mel
spectrogram the model was trained on, which cannot be checked against torchaudio on this machine.
A wrong mel front end would give plausible-looking but meaningless alignment scores, so the
backend is refused with this explanation instead. On a machine where muq imports (torchaudio
installed, transformers < 5), an adapter can follow models/laion_clap_backend.py.
"""

from __future__ import annotations

WHERE_FROM = ("a local MuQ-MuLan folder such as OpenMuQ/MuQ-MuLan-large (config.json + model.safetensors; "
              "`huggingface-cli download OpenMuQ/MuQ-MuLan-large --local-dir PATH` on a networked machine)")
BLOCKERS = (
    "the muq package (0.1.0) computes its mel spectrogram with torchaudio, which must never be installed next to CPU torch here",
    "it imports transformers.deepspeed, which transformers 5 removed",
    "its text tokenizer imports x_clip, which imports torchvision",
)


def mulan_unavailable_reason(backend_param: str, backend: str, checkpoint_param: str, checkpoint: object) -> str:
    """Why the MuQ-MuLan backend `backend` (the value of `backend_param`) cannot run, and what it would need."""
    return (f"{backend_param} {backend!r} cannot run in this environment: " + "; ".join(BLOCKERS)
            + f" (details in s2accompanist/models/mulan_backend.py). Elsewhere it needs {checkpoint_param} pointing at "
            f"{WHERE_FROM} (currently {checkpoint!r})")
