"""The engine's layers under a short name: `from nntrain.layers import Dense` (see nntrain/engine/layers/)."""

from nntrain.engine.layers import *  # noqa: F401,F403 - the same names, nothing added
from nntrain.engine.layers import __all__  # noqa: F401
