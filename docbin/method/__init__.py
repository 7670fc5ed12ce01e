"""The steps of the docbin method, one module per step."""
