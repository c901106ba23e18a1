"""Build and development tools, outside the runtime package: the image's bake step and the CSM builder that
tests and benchmarks share."""
