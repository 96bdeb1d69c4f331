from tests.bq_services import bq_emulator, warehouse_url  # noqa: F401  (fixtures)
