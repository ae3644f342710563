"""Evidence for an AI use case's impact assessment, one function per step."""
