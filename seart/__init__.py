"""Repository curation from SEART GitHub Search."""
