"""Content-addressed audio cache shared by workers on a RunPod network volume."""
from .key import cache_key, synthesis_key
from .record import atomic_write
from .store import AudioCache, CacheEntry

__all__ = ["AudioCache", "CacheEntry", "atomic_write", "cache_key", "synthesis_key"]
