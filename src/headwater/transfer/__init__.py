"""Moving history in and out of Headwater: `headwater import` and `headwater export`."""
