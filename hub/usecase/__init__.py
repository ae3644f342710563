"""Use cases: a team's own data, model and impact assessment, kept by the course service."""
