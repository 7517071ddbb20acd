"""Edits detectron2 0.6's setup.py (from the pb1-detectron2 sdist) so it installs without its C++ extension.

The sdist lacks ``detectron2/layers/csrc``; the compiled ops are replaced at import time by
``transfer.detectron2.compat``. Also excluded: the top-level ``tools`` package (it would shadow this project's
``tools/``), the ``black==21.4b2`` pin and the direct-URL ``panopticapi`` extra.
"""
import sys
from pathlib import Path

EDITS = [
    ("ext_modules=get_extensions(),", "ext_modules=[],"),
    ('cmdclass={"build_ext": torch.utils.cpp_extension.BuildExtension},', "cmdclass={},"),
    ('find_packages(exclude=("configs", "tests*"))', 'find_packages(exclude=("configs", "tests*", "tools", "tools.*"))'),
    ('"black==21.4b2",', ""),
    ('"panopticapi @ https://github.com/cocodataset/panopticapi/archive/master.zip",', ""),
]


def patch(setup_py: Path) -> None:
    text = setup_py.read_text()
    for old, new in EDITS:
        if old not in text:
            raise SystemExit(f"{setup_py}: expected text not found, cannot patch: {old}")
        text = text.replace(old, new)
    setup_py.write_text(text)


if __name__ == "__main__":
    patch(Path(sys.argv[1]))
