"""Search spaces: NAS-Bench-201 and NAS-Bench-Macro, as plug-ins of one contract.

``zcjax.spaces.get(name)`` returns a registered :class:`Space` (``names()``
lists them); ``register(name, factory)`` adds one. The NAS-Bench-201 package
itself is ``zcjax.spaces.nb201``. See docs/SPACES.md.
"""

from .registry import get, names, register
from .space import Space, SpaceNetwork, ground_truth_files, ground_truth_rows

__all__ = ["Space", "SpaceNetwork", "get", "ground_truth_files", "ground_truth_rows", "names", "register"]
