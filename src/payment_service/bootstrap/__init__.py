"""The composition root: the only package that knows the concrete adapter classes."""
