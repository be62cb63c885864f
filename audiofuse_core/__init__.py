"""AudioFuse core: heart-sound classification with a spectrogram ViT fused with a waveform CNN.

No Qt, no audio devices: this library reads recordings, builds and trains the models, evaluates
and predicts. Heavy modules (TensorFlow/Keras) are imported only when a function needs them, so
``import audiofuse_core`` is fast.
"""

from .errors import (
    AudioFuseError,
    DatasetError,
    InvalidAudioError,
    ModelError,
    TrainingError,
)

__version__ = "0.1.0"

__all__ = [
    "AudioFuseError",
    "DatasetError",
    "InvalidAudioError",
    "ModelError",
    "TrainingError",
    "__version__",
]
