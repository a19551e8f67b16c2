# The two commands a new user needs: `make run` (the main job) and `make test`.
# Both create or reuse .venv, install kubebook editable with its test extras,
# install missing Debian packages, and build (once, cached) the local control plane.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kubebook-installed
KUBEBOOK := $(BIN)/kubebook
ARCHIVE ?= reports
SYSTEM_PACKAGES := haproxy runc iptables ipset busybox-static chromium

.PHONY: run test docs lint setup system-deps cluster-build bytecode clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# an editable install skips data-files: enable the report server extension (kubebook.reportserver) here
	install -D -m 644 jupyter-config/jupyter_server_config.d/kubebook.json $(VENV)/etc/jupyter/jupyter_server_config.d/kubebook.json
	touch $@

system-deps:
	bash scripts/ensure-debian-packages.sh $(SYSTEM_PACKAGES)

cluster-build: $(STAMP)
	$(KUBEBOOK) cluster build

# An editable install compiles nothing, and with PYTHONDONTWRITEBYTECODE set every
# `kubebook` call would recompile the package (~0.1 s per short audit); Python still
# reads bytecode written here.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q lib

# The real worker node's tests run wherever the host can run one (they skip, saying why, where it cannot);
# the metrics pipeline's test needs metrics-server and Prometheus (about 3.5 minutes of Go builds cold).
test: $(STAMP) system-deps cluster-build bytecode
	$(KUBEBOOK) cluster build --real-node
	$(KUBEBOOK) cluster build --only metrics-server --only prometheus
	KUBEBOOK_REAL_NODE_TESTS=1 $(BIN)/pytest

# The whole product on one cluster: up with its metrics pipeline, provisioned with the prod baseline
# (audit score before and after), a short run of the load generator so the capacity runbooks measure
# real (KWOK-emulated) usage, then every schedule once, archived.
run: $(STAMP) system-deps cluster-build bytecode
	$(KUBEBOOK) cluster up --with-metrics
	$(KUBEBOOK) provision apply --overlay prod --quiet --cluster "$$($(KUBEBOOK) cluster kubeconfig)" \
		--audit manifests/audit-waivers.yaml
	$(KUBEBOOK) capacity load --cluster "$$($(KUBEBOOK) cluster kubeconfig)" --ticks 3 --interval 5
	$(KUBEBOOK) schedule run-all --archive $(ARCHIVE)

# The documentation site (mkdocs.yml): regenerate nothing, fail on a stale generated page
# (`python -m tools.docsgen` writes them), then build strictly (a broken link or anchor fails) into .venv/docs-site.
docs: $(STAMP)
	$(BIN)/python -m tools.docsgen --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d $(VENV)/docs-site

lint: $(STAMP)
	$(BIN)/ruff check lib tests benchmarks tools scripts
	$(BIN)/lint-imports --no-cache .importlinter

clean-venv:
	rm -rf $(VENV)
