"""The bridge's pydantic models.

Models are declared with `defer_build=True` (here and in the few other modules that keep one): pydantic builds a
model's schema and validator on its first validation instead of at import. Building them is most of what
importing a model costs, and each handler validates only some of the models it imports (the order worker never
a Bsale product, the catalog worker never an order), so its cold start pays only for those it uses (issue 12).
"""
