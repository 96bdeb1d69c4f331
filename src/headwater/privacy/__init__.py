"""Privacy requests (docs/privacy.md): suppressing, deleting and exporting one person's data."""
