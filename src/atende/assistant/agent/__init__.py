"""The LLM agent: a chat-completions model calling the typed business tools, kept safe."""
