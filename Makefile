# The README's two commands: `make chat` (install, then open the chat app on seeds/) and
# `make test` (install everything, including Chromium for the browser tests, then run the suite).
# The venv is created on first use; later runs only reinstall when pyproject.toml changes.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_TEST := chromium chromium-driver fonts-wqy-microhei

.PHONY: install install-test system-deps chat test lint bench clean

$(BIN)/python:
	@command -v $(PY) >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3 python3-venv; }
	$(PY) -m venv $(VENV) 2>/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3-venv && $(PY) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: the 2.13.0 wheel is the CPU build here; anything that pulls torch in
# afterwards then finds it satisfied instead of fetching a multi-GB CUDA build.
# LightGBM (the answer model) links the system's OpenMP runtime, libgomp1.
$(STAMP): $(BIN)/python pyproject.toml
	@/sbin/ldconfig -p 2>/dev/null | grep -q libgomp.so.1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q libgomp1; }
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Debian's Chromium (never `playwright install`: no browser downloads) and a CJK font so
# screenshots show Chinese.
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi wenquanyi; then \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(APT_TEST); fi

install: $(STAMP)

install-test: $(TEST_STAMP) system-deps

chat: $(STAMP)
	$(BIN)/seedqa chat --docs seeds

test: install-test
	$(BIN)/python -m pytest -n 2 --dist loadfile tests

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/bench_index.py

clean:
	rm -rf $(VENV) seeds/.seedqa
