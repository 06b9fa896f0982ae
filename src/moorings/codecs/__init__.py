"""Wire formats to and from numpy tensors; one module per format."""
