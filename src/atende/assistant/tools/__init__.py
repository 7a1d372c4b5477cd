"""Typed business tools, defined once and used by every engine (offline and LLM).

Authorization lives here, not in prompts: a customer's financial and order data is only returned
in a conversation whose contact is verified as that customer (see ``verification.py``).
"""
