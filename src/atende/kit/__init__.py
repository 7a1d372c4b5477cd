"""Plumbing only: database, logging, masking, secrets, resilience. No business rules here."""
