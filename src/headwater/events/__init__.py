"""Pure event domain: message model, validation, normalization. Imports no framework or driver."""
