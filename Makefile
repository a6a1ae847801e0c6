# The two commands of the README are `make run` and `make test`; the rest are parts of them
# or long jobs kept out of CI (bench, fuzz).
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DIMGBATCH_WERROR=ON $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD_DIR)/CMakeCache.txt
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@mkdir -p data/images
	./$(BUILD_DIR)/imgbatch serve --listen 127.0.0.1:8080 --db sqlite:data/imgbatch.db --storage file:data/images

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)
