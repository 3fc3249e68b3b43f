"""Search spaces declared once, and the registry of HPO methods that search them."""
