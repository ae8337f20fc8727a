"""Vector search derived from the embeddings in the database: FAISS in process, or Milvus.

Backends are imported when chosen, so importing this package costs neither FAISS
nor pymilvus start-up time.
"""

from __future__ import annotations

from aima.core.settings import Settings
from aima.store.db import Database
from aima.store.vectors.base import (
    Hit,
    Purge,
    VectorIndex,
    collection_name,
    decode_embedding,
    encode_embedding,
)
from aima.store.vectors.store import VectorStore

__all__ = [
    "Hit",
    "Purge",
    "VectorIndex",
    "VectorStore",
    "collection_name",
    "decode_embedding",
    "encode_embedding",
    "make_vector_store",
]


def make_vector_store(settings: Settings, db: Database) -> VectorStore:
    """The configured index behind a ``VectorStore``; it is loaded and synced on first use."""
    cfg = settings.vectors
    if cfg.backend == "milvus":
        from aima.store.vectors.milvus_index import MilvusIndex

        uri = cfg.milvus_uri or str(settings.index_path / "milvus.db")
        token = cfg.milvus_token.get_secret_value() if cfg.milvus_token else None
        index: VectorIndex = MilvusIndex(
            uri, token, hnsw_m=cfg.hnsw_m, hnsw_ef_search=cfg.hnsw_ef_search
        )
        return VectorStore(db, index, snapshot_dir=None)

    from aima.store.vectors.faiss_index import FaissIndex

    index = FaissIndex(
        hnsw_threshold=cfg.hnsw_threshold, hnsw_m=cfg.hnsw_m, hnsw_ef_search=cfg.hnsw_ef_search
    )
    snapshot = settings.index_path / "faiss" if cfg.snapshot else None
    return VectorStore(db, index, snapshot_dir=snapshot)
