# Thin wrapper around CMake for the README's commands. `make help` lists them.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: help setup build check test test-release test-asan demo install clean bench fuzz

help:
	@echo "make demo     install packages, build, create build/demo and serve it"
	@echo "make test     install packages, build, run all tests (also under ASan/UBSan)"
	@echo "make build    configure and build into $(BUILD)/"
	@echo "make check    run the test suite of an existing build"
	@echo "make install  install (PREFIX=/usr/local)"
	@echo "make bench    install benchmark packages, build optimised, run bench/run"

setup:
	scripts/setup

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUSTY_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

check:
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-release: setup build check

test-asan: setup
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLUSTY_WERROR=ON -DLUSTY_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

test: test-release test-asan fuzz

# libFuzzer targets (clang, ASan+UBSan), ~20 s each.
fuzz:
	tests/fuzz/run

demo: setup build
	scripts/demo $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(or $(PREFIX),/usr/local)

bench:
	scripts/setup --bench
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS)
	bench/run build-bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-bench build-fuzz
