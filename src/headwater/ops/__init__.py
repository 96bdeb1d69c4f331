"""Operations: metrics, health, structured logs."""
