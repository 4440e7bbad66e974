"""Privacy and accountability: the audit log, a member's data export and erasure."""
