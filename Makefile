# One entry point for newcomers and CI. `make test` and `make demo` set up what they need.
PY ?= python3.11
VENV := .venv
B42 := .venv-blender-42
B50 := .venv-blender-50
PIP_QUIET := -q --disable-pip-version-check

.PHONY: setup setup-backend setup-blender test test-backend test-blender typecheck demo demo-animation bench bench-bake bench-e2e build clean

setup: setup-backend setup-blender

setup-backend: $(VENV)/.done
$(VENV)/.done: backend/pyproject.toml
	$(PY) -m venv $(VENV)
	# torch==2.13.0 resolves to the CPU wheel on this machine; an unpinned torch pulls GBs of CUDA.
	$(VENV)/bin/pip install $(PIP_QUIET) torch==2.13.0
	$(VENV)/bin/pip install $(PIP_QUIET) -e "backend[eval,train]" pytest mypy fake-bpy-module-4-2
	touch $@

setup-blender: $(B42)/.done $(B50)/.done
# Real Blender as a Python module, at both ends of the supported range (4.2 LTS and 5.0).
.venv-blender-%/.done:
	$(PY) -m venv .venv-blender-$*
	.venv-blender-$*/bin/pip install $(PIP_QUIET) "bpy==$(if $(filter 42,$*),4.2.23,5.0.1)" pytest
	touch $@

test: setup
	$(MAKE) --no-print-directory test-backend test-blender typecheck

test-backend:
	$(VENV)/bin/python -m pytest -q tests/backend

test-blender:
	@for v in $(B42) $(B50); do \
	  echo "== $$v"; \
	  ASYNFUSION_BACKEND_PYTHON=$(CURDIR)/$(VENV)/bin/python $$v/bin/python -m pytest -q tests/blender || exit 1; \
	done

typecheck:
	$(VENV)/bin/python -m mypy --config-file mypy.ini     # the add-on and the backend's contracts (mypy.ini: files)

# The main job: generate from a bundled speech clip, bake it onto the built-in rig headless,
# save a .blend with animation and sound, the motion file, a contact-sheet preview and a video
# of the take with its speech (out/).
DEMO_AUDIO := tests/data/5703-47212-0000.ogg
demo: setup-backend $(B50)/.done
	mkdir -p out
	ASYNFUSION_BACKEND_PYTHON=$(CURDIR)/$(VENV)/bin/python $(B50)/bin/python asynfusion_blender/batch.py \
	  --audio $(DEMO_AUDIO) --out out/demo.blend --preview out/demo_preview.png --preview-video out/demo.mp4

# The README's moving picture: six seconds of out/demo.mp4 as an animated WebP (docs/demo.webp, < 3 MB),
# decoded by the Blender 5.0 wheel and written by Pillow (docs/demo_animation.py).
demo-animation: demo
	$(VENV)/bin/python docs/demo_animation.py

bench: setup
	$(VENV)/bin/python bench/generate_speed.py

# Bake speed in real Blender at both ends of the supported range (results: bench/RESULTS.md).
bench-bake: setup-blender
	$(B42)/bin/python bench/bake_speed.py
	$(B50)/bin/python bench/bake_speed.py
	$(B42)/bin/python bench/retarget_speed.py
	$(B50)/bin/python bench/retarget_speed.py

# Press Generate -> last keyframe, cold and warm worker, in real Blender 5.0 (results: bench/RESULTS.md).
bench-e2e: setup-backend $(B50)/.done
	ASYNFUSION_BACKEND_PYTHON=$(CURDIR)/$(VENV)/bin/python $(B50)/bin/python bench/generate_to_bake.py

# The installable Blender extension: dist/asynfusion_blender-<version>.zip (add-on, backend, weights/).
# build_addon.py needs only Python 3.11 (tomllib), not the development environment.
build:
	$(PY) build_addon.py

clean:
	rm -rf $(VENV) $(B42) $(B50) dist out
