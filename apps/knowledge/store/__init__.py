"""Store: the vector index. qdrant is the engine-independent face (server or embedded),
edge the embedded engine, embeddings the sentence-transformers encoder."""
