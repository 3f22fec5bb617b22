"""Reading and writing wheel archives (PEP 427) without unpacking them to disk."""
