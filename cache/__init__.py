"""Content-addressed audio cache shared by workers on a RunPod network volume."""
from .key import cache_key
from .store import AudioCache, CacheEntry, atomic_write

__all__ = ["AudioCache", "CacheEntry", "atomic_write", "cache_key"]
