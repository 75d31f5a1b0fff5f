"""vaead: anomaly detection in tables with variational autoencoders.

A thin layer over vaead's C++ library (and its CUDA engine where one was built and a GPU answers):

    from vaead import VAEDetector
    detector = VAEDetector().fit(X_normal)     # NumPy array or pandas DataFrame
    scores = detector.decision_function(X)     # higher = more anomalous
    flags = detector.predict(X)                # 1 = anomaly, 0 = normal (as PyOD)

The model file `save` writes is the one `vaead train` writes; `vaead.load` reads either.
"""
from . import _core, metrics
from ._detector import VAEDetector, load
from ._sweep import sweep

TrainingError = _core.TrainingError
__version__ = _core.version()

__all__ = ["VAEDetector", "load", "sweep", "metrics", "TrainingError", "__version__"]
