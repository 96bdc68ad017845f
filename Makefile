# Container images, built without any registry (see deploy/docker/).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: image image-dev

# The release image: sextant:<version> and sextant:latest, from a stripped release build.
image:
	cargo build --release -p sextant
	strip -o target/release/sextant.stripped target/release/sextant
	deploy/docker/build-image.sh target/release/sextant.stripped sextant:$(VERSION) sextant:latest

# A quick image from the debug build CI already has: sextant:dev.
image-dev:
	cargo build -p sextant
	deploy/docker/build-image.sh target/debug/sextant sextant:dev
