"""The primitives, each with its template, type rule and derivative rules, and the user's own
rules (custom_vjp)."""
