# tinykws: the user's entry points. `make demo` and `make test` are all a new user types.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN    ?= runs/demo
TARGET ?= host
DATA   ?= ../shared/data/speech_commands_v0.02_real
EXTRA  ?= ../shared/data/speech_commands_extra


# gcc-multilib: the firmware WAV reader is fuzzed with a 32-bit `long` (gcc -m32), as on a Cortex-M.
# flac, vorbis-tools: FLAC and OGG files made by independent encoders for the audio reader's tests.
APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm flac vorbis-tools \
    $(if $(filter amd64,$(shell dpkg --print-architecture 2>/dev/null)),gcc-multilib)

.PHONY: setup system-deps demo test test-all firmware bench docs reference-model tflm-tree clean

setup: $(VENV)/.installed system-deps

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The Cortex-M cross compiler and emulator: apt-installed when we are root on Debian.
system-deps:
	@if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null \
	    && command -v flac >/dev/null && command -v oggenc >/dev/null \
	    && [ -f /usr/lib/arm-none-eabi/include/stdio.h ] \
	    && { ! echo "$(APT_PACKAGES)" | grep -q gcc-multilib \
	         || echo 'int main(void){return 0;}' | gcc -m32 -x c -o /dev/null - 2>/dev/null; }; then \
	  echo "system deps: arm-none-eabi-gcc, qemu-system-arm (and gcc -m32) present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "system deps: apt-get install $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	else \
	  echo "system deps: not root or not Debian; install $(APT_PACKAGES) yourself (Cortex-M tests will skip)"; \
	fi

demo: setup
	$(BIN)/tinykws data synth --out data/synth --per-word 200
	$(BIN)/tinykws train-and-export --data-dir data/synth --preset ds-cnn-s --epochs 60 --out $(RUN)

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m "slow or not slow"

firmware: setup
	$(BIN)/tinykws firmware $(RUN) --target $(TARGET) --out $(RUN)/firmware/$(TARGET)
	$(MAKE) -C $(RUN)/firmware/$(TARGET)

# TFLM_DIR=DIR (a TensorFlow Lite Micro tree, see tflm-tree): TFLite Micro built and run on the Cortex-M4 too.
bench: setup
	$(BIN)/python -m tinykws.bench --out bench $(if $(TFLM_DIR),--tflm-dir $(TFLM_DIR))

# A TensorFlow Lite Micro tree for TFLM_DIR, from repository snapshots (no network): SNAPSHOTS holds one entry
# per repository named owner+name (tensorflow+tflite-micro, google+flatbuffers, google+gemmlowp, google+ruy,
# mborgerding+kissfft, ARM-software+CMSIS_6, ARM-software+Cortex_DFP, ARM-software+CMSIS-NN): a bare git
# repository (or a folder holding one as repo/, or a work tree), or a plain tree named owner+name@REF.
# TFLM is checked out at TFLM_COMMIT (default: the one tinykws.firmware.tflm_tree names), the others at the commits it pins, with TFLM's patches applied.
SNAPSHOTS   ?=
TFLM_OUT    ?= ../tflm
TFLM_COMMIT ?=
tflm-tree: setup
	@test -n "$(SNAPSHOTS)" || { echo "usage: make tflm-tree SNAPSHOTS=DIR [TFLM_OUT=DIR]" >&2; exit 2; }
	$(BIN)/python -m tinykws.firmware.tflm_tree --snapshots $(SNAPSHOTS) --out $(TFLM_OUT) $(if $(TFLM_COMMIT),--tflm-commit $(TFLM_COMMIT))

# README's figures from the results files (copies bench/results.json to docs/results/bench.json if present).
docs: setup
	$(BIN)/python -m tinykws.docs

# The shipped reference model: cross-validate the recipe (folds of DATA's speakers, EXTRA always in training;
# `cv` resumes the folds already done), retrain on both folders, export, check, ship.
# The always-on model: make reference-model REF_NAME=ds-cnn-s-stream-kws12 (preset ds-cnn-s-stream, VALID in time).
REF_NAME   ?= ds-cnn-s-kws12
REF_RECIPE ?= models/recipes/$(REF_NAME).json
REF_PRESET ?= $(if $(findstring -stream-,$(REF_NAME)),ds-cnn-s-stream,ds-cnn-s)
reference-model: setup
	$(BIN)/tinykws cv --data-dir $(DATA) --extra-train-dir $(EXTRA) --preset $(REF_PRESET) --recipe $(REF_RECIPE) \
	    --out runs/$(REF_NAME)-cv
	$(BIN)/tinykws train --data-dir $(EXTRA) --data-dir $(DATA) --preset $(REF_PRESET) --recipe $(REF_RECIPE) \
	    --force --out runs/$(REF_NAME)
	$(BIN)/tinykws export runs/$(REF_NAME)
	$(BIN)/tinykws check runs/$(REF_NAME) --data-dir $(EXTRA) --data-dir $(DATA)
	$(BIN)/tinykws stream-eval runs/$(REF_NAME) --data-dir $(EXTRA) --data-dir $(DATA) --minutes 120 --fast \
	    --write-config
	$(BIN)/tinykws ship runs/$(REF_NAME) --cv runs/$(REF_NAME)-cv --out models/$(REF_NAME) \
	    --notes models/recipes/$(REF_NAME).ablation.md
	$(BIN)/python -m tinykws.docs

clean:
	rm -rf runs data/synth bench .pytest_cache
