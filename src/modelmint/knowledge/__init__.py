"""Knowledge bases: documents to text, chunks, and the indexes that search them."""
