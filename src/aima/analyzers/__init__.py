"""One module per analyzer; built-ins are discovered by scanning this package."""
