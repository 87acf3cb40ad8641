"""The assistant's tools: thin, typed wrappers over the domain services.

The signed-in user reaches a tool only through the agent's runtime context
(`tools.context.AgentContext`), never through model-visible arguments.
"""
