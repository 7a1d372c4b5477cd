"""The offline pt-BR assistant: NLU, slot filling, the business tools, pt-BR replies."""
