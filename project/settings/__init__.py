"""Settings package: `base` is shared by all environments; each sub-package is one environment."""
