"""Answering: turning the passages a question found into a reply that is grounded in
them, in the question's language (English or Vietnamese)."""
