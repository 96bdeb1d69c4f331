from tests.redis_services import private_redis, redis_cluster, shared_redis

__all__ = ["private_redis", "redis_cluster", "shared_redis"]
