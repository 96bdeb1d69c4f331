"""Product metrics over the lake plus today's log (DESIGN section 5). One module per concept."""
