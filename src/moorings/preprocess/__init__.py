"""Raw inputs: model.toml input declarations (spec.py), matched to a version's signatures
(pipeline.py), and the decoders of each kind (image.py)."""
