"""What detectron2 v0.6 needs to import and run on this stack, applied once before ``import detectron2``.

- ``detectron2._C``: the compiled ops (rotated boxes, deformable conv, the fast COCO evaluator). Where the package
  was installed without its extension, a stand-in module takes its place: importing it works, calling any of its
  functions raises an error naming the op. Axis-aligned ROIAlign and NMS come from torchvision, so Mask R-CNN does
  not need it; evaluate with ``COCOEvaluator(..., use_fast_impl=False)`` (see :func:`has_compiled_ops`).
- numpy >= 1.24 removed ``np.bool``, ``np.int``, ``np.float``, which v0.6 still uses: restored as the builtins.
- Pillow >= 10 removed ``Image.LINEAR`` (the default of v0.6's ``ExtentTransform``): restored as ``BILINEAR``.

Each fix is applied only where the thing is missing, so on an upstream build with a real ``_C`` and older numpy or
Pillow nothing changes.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import sys
import types

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

_STANDIN_NAME = "detectron2._C"
_applied = False


class _MissingCompiledOps(types.ModuleType):
    """Stand-in for ``detectron2._C``: any op, when called, says that the compiled extension is missing."""

    is_standin = True

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # keeps inspect, pickle and copy working

        def missing(*args, **kwargs):
            raise RuntimeError(f"detectron2._C.{name} is a compiled op and this detectron2 was installed without its "
                               "C++/CUDA extension; use the pure-Python path (e.g. COCOEvaluator(use_fast_impl=False), "
                               "axis-aligned boxes) or install a detectron2 built from source")
        missing.__name__ = name
        return missing


def _extension_present() -> bool:
    spec = importlib.util.find_spec("detectron2")
    if spec is None or not spec.submodule_search_locations:
        return False
    for folder in spec.submodule_search_locations:
        finder = importlib.machinery.FileFinder(folder, (importlib.machinery.ExtensionFileLoader,
                                                          importlib.machinery.EXTENSION_SUFFIXES))
        if finder.find_spec(_STANDIN_NAME) is not None:
            return True
    return False


def apply() -> dict[str, bool]:
    """Installs the missing pieces (idempotent). Returns which ones were needed: {'_C', 'numpy', 'pillow'}."""
    global _applied
    done = {"_C": False, "numpy": False, "pillow": False}
    for alias, builtin in (("bool", bool), ("int", int), ("float", float)):
        if alias not in np.__dict__:
            setattr(np, alias, builtin)
            done["numpy"] = True
    if not hasattr(Image, "LINEAR"):
        Image.LINEAR = Image.BILINEAR
        done["pillow"] = True
    if _STANDIN_NAME not in sys.modules and importlib.util.find_spec("detectron2") is not None \
            and not _extension_present():
        sys.modules[_STANDIN_NAME] = _MissingCompiledOps(_STANDIN_NAME, "stand-in: detectron2 built without _C")
        done["_C"] = True
    if done["_C"]:
        import detectron2
        detectron2._C = sys.modules[_STANDIN_NAME]
    if any(done.values()) and not _applied:
        logger.info("detectron2 compat: %s", ", ".join(k for k, v in done.items() if v))
    _applied = True
    return done


def has_compiled_ops() -> bool:
    """True where ``detectron2._C`` is the real extension (then the fast COCO evaluator can be used)."""
    apply()
    return not getattr(sys.modules.get(_STANDIN_NAME), "is_standin", False)
