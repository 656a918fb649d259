"""Transforms of the IR: reverse mode (reverse.py) and simplification (CSE, DCE, residual pruning)."""
