# Container images, built without any registry (see deploy/docker/), and the Kubernetes manifests.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: image image-dev deb wheel manifests check-manifests

# The release image: sextant:<version> and sextant:latest, from a stripped release build.
image:
	cargo build --release -p sextant
	strip -o target/release/sextant.stripped target/release/sextant
	deploy/docker/build-image.sh target/release/sextant.stripped sextant:$(VERSION) sextant:latest

# A quick image from the debug build CI already has: sextant:dev.
image-dev:
	cargo build -p sextant
	deploy/docker/build-image.sh target/debug/sextant sextant:dev

# The Debian package of a stripped release build: target/sextant_<version>_<arch>.deb
# (tools/debian-check.sh PACKAGE tries it in a clean Debian).
deb:
	cargo build --release -p sextant
	strip -o target/release/sextant.stripped target/release/sextant
	deploy/debian/build-deb.sh target/release/sextant.stripped target/sextant_$(VERSION)_$$(dpkg --print-architecture).deb

# The Python client's release wheel (package and local mode's native extension, for CPython
# 3.9 and newer): target/wheels/sextant-<version>-cp39-abi3-<platform>.whl. pip fetches maturin.
wheel:
	python3 -m pip wheel --no-deps --disable-pip-version-check -w target/wheels ./clients/python

# deploy/k8s/base from the Helm chart (run after editing deploy/helm/sextant).
manifests:
	target/tools-venv/bin/python tools/render-chart.py --write || python3 tools/render-chart.py --write

# Render the chart, the base and both overlays, and validate them offline.
check-manifests:
	tools/check-manifests.sh
