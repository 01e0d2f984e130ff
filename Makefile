# make demo: install what is missing, build the library and the example, train the Keras MNIST program on Fashion-MNIST.  make test: the same, then the whole suite
# (Release build, then the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then the thread
# pool and threaded GEMM tests under ThreadSanitizer).
JOBS ?= $(shell nproc)
BUILD := build
DEMO := build-demo
ASAN := build-asan
TSAN := build-tsan
# Ninja (Debian ninja-build) for new build folders: it keeps both cores busy across the layers' targets, where make's
# recursion waited (make demo 65 s -> 50 s); a folder configured before keeps its generator
gen = $(if $(wildcard $(1)/CMakeCache.txt),,-G Ninja)

.PHONY: deps build demo test test-release test-asan test-tsan bench goldens clean
deps:
	@bash tools/install_deps.sh

# everything: the library, the tests, the examples, the benchmarks and the Python module (make demo turns some off)
ALL_PARTS := -DNERVE_BUILD_TESTS=ON -DNERVE_BUILD_EXAMPLES=ON -DNERVE_BUILD_BENCH=ON -DNERVE_BUILD_PYTHON=ON
build: deps
	@cmake -S . -B $(BUILD) $(call gen,$(BUILD)) -DCMAKE_BUILD_TYPE=Release $(ALL_PARTS) > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# the library and the one example only (not the tests and benchmarks: configured without them, which also saves
# most of the configure time), in a folder of its own with all but the kernels compiled -Og (NERVE_QUICK_BUILD, see
# CMakeLists.txt: half the build time, the same training speed), the compiler's output kept in a log
demo: deps
	@echo "make demo: building the nerve library and examples/mnist_mlp ($(JOBS) jobs; log in $(DEMO)/demo-build.log)"
	@cmake -S . -B $(DEMO) $(call gen,$(DEMO)) -DCMAKE_BUILD_TYPE=Release -DNERVE_QUICK_BUILD=ON -DNERVE_BUILD_TESTS=OFF \
	  -DNERVE_BUILD_EXAMPLES=ON -DNERVE_BUILD_BENCH=OFF -DNERVE_BUILD_PYTHON=OFF > /dev/null
	@cmake --build $(DEMO) -j $(JOBS) --target mnist_mlp > $(DEMO)/demo-build.log 2>&1 || { tail -40 $(DEMO)/demo-build.log; exit 1; }
	@echo "make demo: training the Keras MNIST classifier on Fashion-MNIST (examples/mnist_mlp/main.cpp)"
	@$(DEMO)/examples/mnist_mlp

test: test-release test-asan test-tsan

# the Python module (python/): build/python/nerve, imported with PYTHONPATH=build/python
.PHONY: python
python: deps
	@cmake -S . -B $(BUILD) $(call gen,$(BUILD)) -DCMAKE_BUILD_TYPE=Release $(ALL_PARTS) > /dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target python
	@echo "make python: built $(BUILD)/python/nerve; use it with PYTHONPATH=$(CURDIR)/$(BUILD)/python /usr/bin/python3"

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: deps
	@cmake -S . -B $(ASAN) $(call gen,$(ASAN)) -DCMAKE_BUILD_TYPE=Debug -DNERVE_SANITIZE=ON -DNERVE_BUILD_EXAMPLES=OFF \
	  -DNERVE_BUILD_BENCH=OFF > /dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 ctest --test-dir $(ASAN) --output-on-failure -j $(JOBS) -L unit

# ThreadSanitizer on the core tests (the pool, parallel_for, the tiled GEMM on 1-4 threads): only test_core is built
test-tsan: deps
	@cmake -S . -B $(TSAN) $(call gen,$(TSAN)) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS=-fsanitize=thread \
	  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DNERVE_BUILD_EXAMPLES=OFF -DNERVE_BUILD_BENCH=OFF > /dev/null
	@cmake --build $(TSAN) -j $(JOBS) --target test_core
	TSAN_OPTIONS=halt_on_error=1 $(TSAN)/tests/test_core

# Regenerates every golden file from PyTorch (Debian's python3-torch, /usr/bin/python3) and shows what changed
goldens:
	@bash tools/install_deps.sh bench
	@for g in tests/golden/make_*.py; do /usr/bin/python3 $$g || exit 1; done
	@git --no-pager diff --stat -- tests/golden

bench: build
	@bash tools/install_deps.sh bench
	@bash bench/run_all.sh

clean:
	rm -rf $(BUILD) $(DEMO) $(ASAN) $(TSAN)
