"""Database engine, metadata and migrations, shared by every domain."""
