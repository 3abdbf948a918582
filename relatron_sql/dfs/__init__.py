"""Deep Feature Synthesis compiled to SQL: enumerate, compile, compute, model."""
