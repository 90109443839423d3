# Entry points; the scripts do the work (see scripts/).
.PHONY: all build image image-all test e2e setup consul clean bench demo fuzz release publish lint-workflows

all: build

setup:
	scripts/setup.sh

consul:
	scripts/build-consul.sh

build:
	scripts/setup.sh --deps-only
	scripts/build.sh

# The container image (podman, no daemon): image/Containerfile, tagged as
# image/image.env says.
image: build
	scripts/build-image.sh

# Both architectures' images (arm64 cross-built) and their manifest list.
image-all:
	scripts/setup.sh --deps-only
	scripts/build.sh --arch amd64
	scripts/build.sh --arch arm64
	scripts/build-image.sh --manifest

# dist/<version>/: binaries and zips per architecture, OCI archives and the
# manifest list, the Terraform modules, the SBOM, SHA256SUMS (scripts/release.sh).
release:
	scripts/release.sh

# Pushes the manifest list `make release` built to $$IMAGE_REF (image/image.env).
publish:
	scripts/publish.sh

# actionlint on .github/workflows (built from the Go module proxy, cached).
lint-workflows:
	scripts/lint-workflows.sh

test:
	scripts/test.sh

# Only the end-to-end suite, against an existing build/consul-ecs.
e2e:
	scripts/test.sh --e2e-only

# libFuzzer targets (fuzz/) under ASan+UBSan, FUZZ_SECONDS each (default 600);
# results in build-fuzz/fuzz-summary.md. See bench/README.md, "Fuzzing".
fuzz:
	scripts/setup.sh --deps-only
	scripts/fuzz.sh

# Benchmarks against the reference consul-ecs (setup + build + bench/run.sh);
# BENCH_ARGS=--quick for a smoke run. See bench/README.md.
bench:
	bench/run.sh $(BENCH_ARGS)

# The local demo: the mesh sandbox (setup + build + sandbox/demo.py), no AWS.
# DEMO_ARGS=--keep keeps it running until Ctrl-C. See docs/sandbox.md.
demo:
	scripts/demo.sh $(DEMO_ARGS)

clean:
	rm -rf build build-arm64 build-asan build-fuzz dist
