# One command to run the main job, one to run the tests (README). Only needs python3 (3.11+).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SEED   ?= examples/seed.yaml
SCENARIO ?= examples/scenarios/seed-enrich-breaks.yaml

.PHONY: run test lint typecheck unit bench fuzz faults clean

$(BIN)/rollout: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

## run: install, then run the main job: a dry run of the seed release on the embedded engine,
## through its roll-forward story (enrich breaks on schema 2, hotfix 19 ships)
run: $(BIN)/rollout
	$(BIN)/rollout plan $(SEED)
	$(BIN)/rollout dry-run $(SEED) --scenario $(SCENARIO)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

## test: install (Python and the npm ASL validator), then ruff, mypy and the whole pytest suite
test: $(BIN)/rollout node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(BIN)/rollout
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(BIN)/rollout
	$(BIN)/mypy

## bench: benchmarks that print figures (not part of `make test`)
bench: $(BIN)/rollout
	$(BIN)/python -m tests.bench

## bench-judge: the Monte Carlo of canary judges (threshold, sequential, Mann-Whitney) over the
## traffic x baseline x multiplier grid of issue 10; BENCH_JUDGE_RELEASES shifts per cell
.PHONY: bench-judge
BENCH_JUDGE_RELEASES ?= 2000
bench-judge: $(BIN)/rollout
	$(BIN)/python -m tests.bench.bench_judge --releases $(BENCH_JUDGE_RELEASES)

## bench-makespan: simulated makespan against the critical path (and what wave barriers would
## give) on uneven DAGs; bench-scale: healthy releases of BENCH_SCALE_SIZES components
.PHONY: bench-makespan bench-scale
BENCH_SCALE_SIZES ?= 100,1000,5000
bench-makespan: $(BIN)/rollout
	$(BIN)/python -m tests.bench.bench_makespan
bench-scale: $(BIN)/rollout
	$(BIN)/python -m tests.bench.bench_scale --sizes $(BENCH_SCALE_SIZES)

## fuzz: the release property test (tests/workflow/test_release_properties.py) with thousands of
## random releases through the real ASL, failures shrunk to a minimal example, then a summary
## (Hypothesis statistics: statuses, hotfixes, violations). FUZZ_EXAMPLES is per shard (4 shards,
## each with its own seed): 500 x 4 = 2,000 releases; FUZZ_EXAMPLES=50 for a shorter run.
FUZZ_EXAMPLES ?= 500
fuzz: $(BIN)/rollout fuzz-inputs
	ROLLOUT_PROPERTY_EXAMPLES=$(FUZZ_EXAMPLES) ROLLOUT_PROPERTY_SHRINK=1 \
	$(BIN)/pytest tests/workflow/test_release_properties.py --runxfail --timeout 0 \
		--hypothesis-show-statistics -p no:cacheprovider -q

## fuzz-inputs: every user input (manifest YAML/JSON text, scenario text, --reads/--writes pairs)
## fuzzed with FUZZ_INPUT_EXAMPLES random cases per test (tests/unit/test_input_fuzz.py): 0
## tracebacks, every refusal an InputError (exit 2) with a path and a message; then the statistics
.PHONY: fuzz-inputs
FUZZ_INPUT_EXAMPLES ?= 3000
fuzz-inputs: $(BIN)/rollout
	ROLLOUT_INPUT_EXAMPLES=$(FUZZ_INPUT_EXAMPLES) $(BIN)/pytest tests/unit/test_input_fuzz.py \
		--timeout 0 --hypothesis-show-statistics -p no:cacheprovider -q

## faults: the fault-injection matrix (tests/workflow/test_faults.py) on the embedded engine,
## then the table fault | expected | observed
faults: $(BIN)/rollout
	rm -f .faults.jsonl
	ROLLOUT_FAULTS_TABLE=$(CURDIR)/.faults.jsonl $(BIN)/pytest tests/workflow/test_faults.py -q \
		-p no:cacheprovider; status=$$?; $(BIN)/python tests/workflow/faults_table.py .faults.jsonl; \
		exit $$status

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
