"""Data-use rules: language, compiler, engine (built on the register)."""
