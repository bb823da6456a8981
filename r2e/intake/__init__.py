"""Repository intake: parse sources, clone or copy them into the workspace."""
