"""Transcript retrieval: chunking, embeddings, pgvector + full-text hybrid search."""
