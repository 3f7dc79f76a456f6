"""Small data sets made in code or shipped by a package; nothing is downloaded at run time.

* :func:`digits`: scikit-learn's 8x8 handwritten digits, split and scaled to [0, 1].
* :func:`delayed_cue`: a delayed cue-recall task whose solution needs memory over time.
"""

from .delayed_cue import delayed_cue
from .digits import digits

__all__ = ["delayed_cue", "digits"]
