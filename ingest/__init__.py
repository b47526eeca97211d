"""How knowledge gets in: curated files, the Hugging Face Hub, the Ollama library, feeds,
team documents, and the weekly digest. Submodules are imported directly (`ingest.sync`,
`ingest.digest` ...) so that loading curated data never imports the Hub client."""

__all__: list[str] = []
