"""Sample HR policies of an imaginary company, in English and Vietnamese.

The seed loads them into the "Sample HR policies" collection of the demo agent, so
that a fresh install answers its first question with a cited passage. They are
read with ``importlib.resources``; replace them with the company's own documents.
"""
