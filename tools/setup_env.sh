#!/usr/bin/env bash
# Builds the project's environment in .venv (idempotent: a second run with an unchanged script returns at once).
# Every step names itself, so a failure says which step and why.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
PY=${PYTHON:-python3}
STAMP=$VENV/.setup-$(sha1sum tools/setup_env.sh pyproject.toml | sha1sum | cut -c1-12)
if [ -f "$STAMP" ]; then exit 0; fi

step() { echo "== setup: $*"; }
fail() { echo "setup failed at step: $CURRENT_STEP" >&2; }
trap fail ERR

CURRENT_STEP="Debian package dataset-fashion-mnist (real images for the demo and tests)"
step "$CURRENT_STEP"
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist
  else
    echo "   apt-get not found: install Fashion-MNIST by hand and set MAE_FASHION_MNIST=DIR" >&2
  fi
fi

CURRENT_STEP="virtual environment $VENV"
step "$CURRENT_STEP"
[ -x $VENV/bin/python ] || $PY -m venv $VENV
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip "setuptools<81" wheel

CURRENT_STEP="torch 2.14.1 + torchvision 0.29.1"
step "$CURRENT_STEP"
$PIP install -q torch==2.14.1 torchvision==0.29.1

CURRENT_STEP="timm, pycocotools, tensorboard, test tools, detectron2's pure-Python requirements, dall-e (+ attrs, which it imports but does not declare), submitit"
step "$CURRENT_STEP"
$PIP install -q "timm==1.0.*" "numpy<2.3" pillow pycocotools tensorboard tqdm scikit-learn scipy matplotlib \
  pytest shapely "fvcore<0.1.6" "iopath<0.1.10" omegaconf hydra-core yacs termcolor tabulate cloudpickle \
  "transformers>=4.40,<5" dall-e attrs "submitit==1.5.*"

CURRENT_STEP="detectron2 0.6 from the pb1-detectron2 sources, C++ extension skipped"
step "$CURRENT_STEP"
if ! $VENV/bin/python -c "import detectron2" 2>/dev/null; then
  tmp=$(mktemp -d)
  sdist=$($VENV/bin/python tools/fetch_sdist.py pb1-detectron2 0.6 "$tmp")
  tar -xzf "$sdist" -C "$tmp"
  src=$(find "$tmp" -maxdepth 1 -mindepth 1 -type d | head -n1)
  $VENV/bin/python tools/patch_detectron2_setup.py "$src/setup.py"
  $PIP install -q --no-deps --no-build-isolation "$src"
  rm -rf "$tmp"
fi

CURRENT_STEP="mmengine 0.10.7, mmcv-lite 2.1.0, mmsegmentation 1.2.2"
step "$CURRENT_STEP"
$PIP install -q mmengine==0.10.7 mmcv-lite==2.1.0 mmsegmentation==1.2.2 "opencv-python-headless<4.11" ftfy regex

CURRENT_STEP="this project, editable"
step "$CURRENT_STEP"
$PIP install -q --no-deps --no-build-isolation -e .

rm -f $VENV/.setup-*
touch "$STAMP"
echo "== setup: done ($VENV)"
