"""The audit trail of automated decisions: one record per assistant turn, notices to admins."""
