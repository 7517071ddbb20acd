"""The config zoo covers every shipped recipe: each file under configs/ (but __init__.py) lies in a folder that one of
the zoo tests globs (test_config_zoo_{pretrain,classification,coco,ade20k}.py), so a new file is run without editing
any test, and a new folder fails here until a zoo test runs it."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZOO = {"pretrain": "test_config_zoo_pretrain.py", "classification": "test_config_zoo_classification.py",
       "coco": "test_config_zoo_coco.py", "ade20k": "test_config_zoo_ade20k.py"}
GLOBBED_RECURSIVELY = {"pretrain"}   # configs/pretrain/ablations/ is part of the pretraining zoo


def test_every_config_file_is_in_a_folder_a_zoo_test_runs():
    configs = ROOT / "configs"
    files = [p for p in configs.rglob("*.py") if p.name != "__init__.py"]
    assert len(files) > 40, files
    outside = []
    for p in files:
        parts = p.relative_to(configs).parts
        top = parts[0] if len(parts) > 1 else ""
        if top not in ZOO or (len(parts) > 2 and top not in GLOBBED_RECURSIVELY):
            outside.append(str(p.relative_to(ROOT)))
    assert not outside, f"config files no zoo test runs (add them to tests/test_config_zoo_*.py): {outside}"
    for test in ZOO.values():
        assert (ROOT / "tests" / test).is_file(), test
