"""From the user's function to typed SSA: parse (gast), fence (refused constructs), canonicalise
(jumps made flags), lower (SSA for the argument types; NumPy calls in calls/, one module per family)."""
