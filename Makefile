# Quick start: `make demo` renders an example end to end; `make test` runs lint and the tests.
# Both install what they need (Debian's espeak-ng, a virtual environment) and are idempotent.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-deps demo test lint bench clean

install: system-deps $(STAMP)

system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  echo "installing espeak-ng (Debian package)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq espeak-ng >/dev/null; }
	@# Burned-in captions: DejaVu (Latin, Greek, Cyrillic, Hebrew, Arabic) and WenQuanYi (CJK).
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf -a -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || { \
	  echo "installing caption fonts (Debian packages)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    fonts-dejavu-core fonts-wqy-microhei libfribidi0 >/dev/null; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@touch $(STAMP)

demo: install
	$(BIN)/python -m autovid.demo

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: install lint
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(VENV) autovid-data out .pytest_cache .ruff_cache
