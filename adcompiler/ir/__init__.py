"""The typed SSA IR (core.py: types, values, ops, blocks, functions, printer, verifier) and the
builder that types each op by its primitive's rule as it is made."""
