"""S2Accompanist: semantic-aware, structure-guided latent diffusion for instrumental music."""

from .numerics import export_to_environment

# Before anything imports torch, and for every stage's notebook kernel (numerics.py says why).
export_to_environment()

__version__ = "0.1.0"
